import { describe, expect, it } from "vitest";
import { matchesEventPattern, validateEventPattern } from "../../lib/subscriptions/eventPattern.ts";

/*
 * The oracle: the pattern examples AWS documents (EventBridge user guide: content filtering, arrays, $or;
 * the event-ruler README), each with the answer AWS gives. Every expected value was checked against AWS's
 * own matcher (event-ruler, Machine.rulesForJSONEvent) on the same pattern and event.
 */
const ec2 = {
  version: "0",
  id: "ddddd4-aaaa-7777-4444-345dd43cc333",
  "detail-type": "EC2 Instance State-change Notification",
  source: "aws.ec2",
  account: "012345679012",
  time: "2017-10-02T16:24:49Z",
  region: "us-east-1",
  resources: ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
  detail: {
    "c-count": 5,
    "d-count": 3,
    "x-limit": 301.8,
    "source-ip": "10.0.0.33",
    "instance-id": "i-000000aaaaaa00000",
    state: "running",
  },
};

const cases: Array<[string, unknown, unknown, boolean]> = [
  [
    "simple: detail-type, resources and state",
    {
      "detail-type": ["EC2 Instance State-change Notification"],
      resources: ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
      detail: { state: ["initializing", "running"] },
    },
    ec2,
    true,
  ],
  ["simple: a state not listed", { detail: { state: ["initializing", "stopped"] } }, ec2, false],
  ["prefix on time", { time: [{ prefix: "2017-10-02" }] }, ec2, true],
  ["prefix on time, another day", { time: [{ prefix: "2017-10-03" }] }, ec2, false],
  ["prefix: European regions", { source: ["aws.ec2"], region: [{ prefix: "eu-" }] }, ec2, false],
  ["prefix equals-ignore-case", { source: [{ prefix: { "equals-ignore-case": "AWS.EC" } }] }, ec2, true],
  ["suffix", { source: [{ suffix: "ec2" }] }, ec2, true],
  ["suffix .png on FileName", { FileName: [{ suffix: ".png" }] }, { FileName: "image.png" }, true],
  ["suffix .png on a .PNG file", { FileName: [{ suffix: ".png" }] }, { FileName: "image.PNG" }, false],
  [
    "suffix equals-ignore-case .png on a .PNG file",
    { detail: { FileName: [{ suffix: { "equals-ignore-case": ".png" } }] } },
    { detail: { FileName: "image.PNG" } },
    true,
  ],
  ["equals-ignore-case", { source: [{ "equals-ignore-case": "AWS.EC2" }] }, ec2, true],
  [
    "equals-ignore-case on Name alice",
    { Name: [{ "equals-ignore-case": "alice" }] },
    { Name: "ALICE" },
    true,
  ],
  [
    "wildcard Simple*Service",
    { source: [{ wildcard: "Simple*Service" }] },
    { source: "SimpleQueueService" },
    true,
  ],
  [
    "wildcard Simple*Service, no match",
    { source: [{ wildcard: "Simple*Service" }] },
    { source: "SimpleQueueServices" },
    false,
  ],
  [
    "wildcard dir/*.png",
    { EventBusArn: [{ wildcard: "arn:aws:events:us-east-1:*:event-bus/*" }] },
    { EventBusArn: "arn:aws:events:us-east-1:123456789012:event-bus/default" },
    true,
  ],
  ["wildcard with an escaped star", { name: [{ wildcard: "a\\*b" }] }, { name: "a*b" }, true],
  ["wildcard with an escaped star is literal", { name: [{ wildcard: "a\\*b" }] }, { name: "axb" }, false],
  ["anything-but a string", { detail: { state: [{ "anything-but": "initializing" }] } }, ec2, true],
  ["anything-but the value it has", { detail: { state: [{ "anything-but": "running" }] } }, ec2, false],
  ["anything-but a number", { detail: { "x-limit": [{ "anything-but": 123 }] } }, ec2, true],
  [
    "anything-but a list of strings",
    { detail: { state: [{ "anything-but": ["stopped", "overloaded"] }] } },
    ec2,
    true,
  ],
  [
    "anything-but a list of numbers",
    { detail: { "x-limit": [{ "anything-but": [100, 200, 300] }] } },
    ec2,
    true,
  ],
  [
    "anything-but a list holding the value",
    { detail: { "c-count": [{ "anything-but": [5, 6] }] } },
    ec2,
    false,
  ],
  ["anything-but prefix", { detail: { state: [{ "anything-but": { prefix: "init" } }] } }, ec2, true],
  ["anything-but prefix aws.", { source: [{ "anything-but": { prefix: "aws." } }] }, ec2, false],
  [
    "anything-but prefix list",
    { detail: { state: [{ "anything-but": { prefix: ["init", "error"] } }] } },
    ec2,
    true,
  ],
  ["anything-but suffix", { detail: { "instance-id": [{ "anything-but": { suffix: "1234" } }] } }, ec2, true],
  [
    "anything-but suffix list holding the suffix",
    { detail: { "instance-id": [{ "anything-but": { suffix: ["1234", "00000"] } }] } },
    ec2,
    false,
  ],
  [
    "anything-but equals-ignore-case",
    { detail: { state: [{ "anything-but": { "equals-ignore-case": "Stopped" } }] } },
    ec2,
    true,
  ],
  [
    "anything-but equals-ignore-case list holding the value",
    { detail: { state: [{ "anything-but": { "equals-ignore-case": ["Stopped", "RUNNING"] } }] } },
    ec2,
    false,
  ],
  [
    "anything-but wildcard",
    { detail: { state: [{ "anything-but": { wildcard: "*/bin/*.jar" } }] } },
    {
      version: "0",
      id: "ddddd4-aaaa-7777-4444-345dd43cc333",
      "detail-type": "EC2 Instance State-change Notification",
      source: "aws.ec2",
      account: "012345679012",
      time: "2017-10-02T16:24:49Z",
      region: "us-east-1",
      resources: ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
      detail: {
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.33",
        "instance-id": "i-000000aaaaaa00000",
        state: "/usr/lib/x.jar",
      },
    },
    true,
  ],
  [
    "anything-but wildcard on a matching path",
    { detail: { state: [{ "anything-but": { wildcard: "*/bin/*.jar" } }] } },
    {
      version: "0",
      id: "ddddd4-aaaa-7777-4444-345dd43cc333",
      "detail-type": "EC2 Instance State-change Notification",
      source: "aws.ec2",
      account: "012345679012",
      time: "2017-10-02T16:24:49Z",
      region: "us-east-1",
      resources: ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
      detail: {
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.33",
        "instance-id": "i-000000aaaaaa00000",
        state: "/usr/bin/x.jar",
      },
    },
    false,
  ],
  [
    "anything-but wildcard list",
    { detail: { state: [{ "anything-but": { wildcard: ["*/bin/*.jar", "*/bin/*.class"] } }] } },
    {
      version: "0",
      id: "ddddd4-aaaa-7777-4444-345dd43cc333",
      "detail-type": "EC2 Instance State-change Notification",
      source: "aws.ec2",
      account: "012345679012",
      time: "2017-10-02T16:24:49Z",
      region: "us-east-1",
      resources: ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
      detail: {
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.33",
        "instance-id": "i-000000aaaaaa00000",
        state: "/usr/bin/x.class",
      },
    },
    false,
  ],
  [
    "anything-but: AWS API calls excluded",
    { "detail-type": [{ "anything-but": "AWS API Call via CloudTrail" }] },
    ec2,
    true,
  ],
  [
    "numeric: ranges and equality",
    {
      detail: {
        "c-count": [{ numeric: [">", 0, "<=", 5] }],
        "d-count": [{ numeric: ["<", 10] }],
        "x-limit": [{ numeric: ["=", 301.8] }],
      },
    },
    ec2,
    true,
  ],
  ["numeric: out of range", { detail: { "c-count": [{ numeric: [">", 5, "<=", 10] }] } }, ec2, false],
  ["numeric on a string never matches", { detail: { state: [{ numeric: [">", 0] }] } }, ec2, false],
  ["exact number equals a float of the same value", { detail: { "c-count": [5] } }, ec2, true],
  ["cidr IPv4", { detail: { "source-ip": [{ cidr: "10.0.0.0/24" }] } }, ec2, true],
  ["cidr IPv4 outside the block", { detail: { "source-ip": [{ cidr: "10.0.1.0/24" }] } }, ec2, false],
  [
    "cidr IPv6",
    { detail: { sourceIPAddress: [{ cidr: "2001:db8::/32" }] } },
    { detail: { sourceIPAddress: "2001:db8:0:0:1::1" } },
    true,
  ],
  [
    "cidr IPv6 outside the block",
    { detail: { sourceIPAddress: [{ cidr: "2001:db8::/32" }] } },
    { detail: { sourceIPAddress: "2001:db9::1" } },
    false,
  ],
  [
    "an exact IP literal matches another spelling",
    { ip: ["2001:db8::1"] },
    { ip: "2001:DB8:0:0:0:0:0:1" },
    true,
  ],
  ["exists true", { detail: { "c-count": [{ exists: true }] } }, ec2, true],
  ["exists false on a present field", { detail: { "c-count": [{ exists: false }] } }, ec2, false],
  ["exists false on a missing field", { detail: { "e-count": [{ exists: false }] } }, ec2, true],
  [
    "exists false: an object is not a leaf",
    { detail: { "c-count": [{ exists: false }] } },
    {
      version: "0",
      id: "ddddd4-aaaa-7777-4444-345dd43cc333",
      "detail-type": "EC2 Instance State-change Notification",
      source: "aws.ec2",
      account: "012345679012",
      time: "2017-10-02T16:24:49Z",
      region: "us-east-1",
      resources: ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
      detail: {
        "c-count": { c1: 100 },
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.33",
        "instance-id": "i-000000aaaaaa00000",
        state: "running",
      },
    },
    true,
  ],
  [
    "exists true: an object is not a leaf",
    { detail: { "c-count": [{ exists: true }] } },
    {
      version: "0",
      id: "ddddd4-aaaa-7777-4444-345dd43cc333",
      "detail-type": "EC2 Instance State-change Notification",
      source: "aws.ec2",
      account: "012345679012",
      time: "2017-10-02T16:24:49Z",
      region: "us-east-1",
      resources: ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
      detail: {
        "c-count": { c1: 100 },
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.33",
        "instance-id": "i-000000aaaaaa00000",
        state: "running",
      },
    },
    false,
  ],
  ["null value", { UserID: [null] }, { UserID: null }, true],
  ["null does not match a missing field", { UserID: [null] }, { Name: "x" }, false],
  ["empty string", { LastName: [""] }, { LastName: "" }, true],
  [
    "complex example",
    {
      time: [{ prefix: "2017-10-02" }],
      detail: {
        state: [{ "anything-but": "initializing" }],
        "c-count": [{ numeric: [">", 0, "<=", 5] }],
        "d-count": [{ numeric: ["<", 10] }],
        "x-limit": [{ "anything-but": [100, 200, 300] }],
        "source-ip": [{ cidr: "10.0.0.0/8" }],
      },
    },
    ec2,
    true,
  ],
  [
    "arrays: any element of the event array",
    {
      resources: [
        "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
        "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f",
      ],
    },
    {
      resources: [
        "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:x",
        "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
      ],
    },
    true,
  ],
  ["arrays: no common element", { resources: ["a", "b"] }, { resources: ["c", "d"] }, false],
  [
    "arrays of objects: a field of any element",
    { employees: { firstName: ["Anna"] } },
    {
      employees: [
        { firstName: "John", lastName: "Doe" },
        { firstName: "Anna", lastName: "Smith" },
        { firstName: "Peter", lastName: "Jones" },
      ],
    },
    true,
  ],
  [
    "arrays of objects: two fields from different elements",
    { employees: { firstName: ["Anna"], lastName: ["Jones"] } },
    {
      employees: [
        { firstName: "John", lastName: "Doe" },
        { firstName: "Anna", lastName: "Smith" },
        { firstName: "Peter", lastName: "Jones" },
      ],
    },
    false,
  ],
  [
    "arrays of objects: two fields of one element",
    { employees: { firstName: ["Anna"], lastName: ["Smith"] } },
    {
      employees: [
        { firstName: "John", lastName: "Doe" },
        { firstName: "Anna", lastName: "Smith" },
      ],
    },
    true,
  ],
  [
    "nested arrays of objects",
    { employees: { firstName: ["Peter"] } },
    { employees: [[{ firstName: "John" }, { firstName: "Anna" }], [{ firstName: "Peter" }]] },
    true,
  ],
  [
    "$or: normal",
    {
      source: ["aws.cloudwatch"],
      $or: [{ metricName: ["CPUUtilization", "ReadLatency"] }, { namespace: ["AWS/EC2", "AWS/ES"] }],
    },
    {
      source: "aws.cloudwatch",
      metricName: "CPUUtilization",
      namespace: "AWS/EC2",
      detail: { source: "aws.cloudwatch", "detail-type": "x" },
    },
    true,
  ],
  [
    "$or: neither alternative",
    { source: ["aws.cloudwatch"], $or: [{ metricName: ["ReadLatency"] }, { namespace: ["AWS/ES"] }] },
    {
      source: "aws.cloudwatch",
      metricName: "CPUUtilization",
      namespace: "AWS/EC2",
      detail: { source: "aws.cloudwatch", "detail-type": "x" },
    },
    false,
  ],
  [
    "$or: parallel",
    {
      $or: [{ metricName: ["CPUUtilization", "ReadLatency"] }, { namespace: ["AWS/EC2", "AWS/ES"] }],
      detail: { $or: [{ source: ["aws.cloudwatch"] }, { "detail-type": ["CloudWatch Alarm State Change"] }] },
    },
    {
      source: "aws.cloudwatch",
      metricName: "CPUUtilization",
      namespace: "AWS/EC2",
      detail: { source: "aws.cloudwatch", "detail-type": "x" },
    },
    true,
  ],
  [
    "$or: with an AND inside",
    {
      source: ["aws.cloudwatch"],
      $or: [
        { metricName: ["ReadLatency"] },
        { metricType: ["MetricType"], namespace: ["AWS/EC2", "AWS/ES"] },
        { scope: ["Service"] },
      ],
    },
    {
      source: "aws.cloudwatch",
      metricName: "CPUUtilization",
      namespace: "AWS/EC2",
      detail: { source: "aws.cloudwatch", "detail-type": "x" },
      metricType: "MetricType",
    },
    true,
  ],
  [
    "$or: AND inside, one part missing",
    {
      source: ["aws.cloudwatch"],
      $or: [
        { metricName: ["ReadLatency"] },
        { metricType: ["MetricType"], namespace: ["AWS/EC2", "AWS/ES"] },
        { scope: ["Service"] },
      ],
    },
    {
      source: "aws.cloudwatch",
      metricName: "CPUUtilization",
      namespace: "AWS/EC2",
      detail: { source: "aws.cloudwatch", "detail-type": "x" },
    },
    false,
  ],
  [
    "$or: nested",
    {
      source: ["aws.cloudwatch"],
      $or: [
        { metricName: ["ReadLatency"] },
        {
          metricType: ["MetricType"],
          namespace: ["AWS/EC2", "AWS/ES"],
          $or: [{ metricId: [1234] }, { spaceId: [1000] }],
        },
        { scope: ["Service"] },
      ],
    },
    {
      source: "aws.cloudwatch",
      metricName: "CPUUtilization",
      namespace: "AWS/EC2",
      detail: { source: "aws.cloudwatch", "detail-type": "x" },
      metricType: "MetricType",
      spaceId: 1000,
    },
    true,
  ],
  [
    "$or: nested, inner alternatives fail",
    {
      source: ["aws.cloudwatch"],
      $or: [
        { metricName: ["ReadLatency"] },
        {
          metricType: ["MetricType"],
          namespace: ["AWS/EC2", "AWS/ES"],
          $or: [{ metricId: [1234] }, { spaceId: [1000] }],
        },
        { scope: ["Service"] },
      ],
    },
    {
      source: "aws.cloudwatch",
      metricName: "CPUUtilization",
      namespace: "AWS/EC2",
      detail: { source: "aws.cloudwatch", "detail-type": "x" },
      metricType: "MetricType",
      spaceId: 1001,
    },
    false,
  ],
  [
    "$or: location or day",
    { $or: [{ Location: ["New York"] }, { Day: ["Monday"] }] },
    { Location: "Boston", Day: "Monday" },
    true,
  ],
  [
    "$or: inside a nested object",
    {
      detail: {
        $or: [
          { "c-count": [{ numeric: [">", 0, "<=", 5] }] },
          { "d-count": [{ numeric: ["<", 10] }] },
          { "x-limit": [{ numeric: ["=", 301.8] }] },
        ],
      },
    },
    {
      version: "0",
      id: "ddddd4-aaaa-7777-4444-345dd43cc333",
      "detail-type": "EC2 Instance State-change Notification",
      source: "aws.ec2",
      account: "012345679012",
      time: "2017-10-02T16:24:49Z",
      region: "us-east-1",
      resources: ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
      detail: {
        "c-count": 50,
        "d-count": 30,
        "x-limit": 301.8,
        "source-ip": "10.0.0.33",
        "instance-id": "i-000000aaaaaa00000",
        state: "running",
      },
    },
    true,
  ],
  [
    "$or with exists false",
    { $or: [{ detail: { "e-count": [{ exists: false }] } }, { source: ["x"] }] },
    ec2,
    true,
  ],
];

describe("AWS documented pattern examples", () => {
  it.each(cases)("%s", (_, pattern, event, expected) => {
    expect(matchesEventPattern(validateEventPattern(pattern), event)).toBe(expected);
  });
});
