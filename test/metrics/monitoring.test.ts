import { describe, expect, it } from "vitest";
import { grantsOf, resourcesOf, synthesise } from "../infra/synth.ts";

// The stack without an alarm e-mail: the alarms and their topic must exist all the same.
describe("monitoring without an alarm e-mail", () => {
  const synth = synthesise({ bundle: false });
  const alarms = resourcesOf(synth.template, "AWS::CloudWatch::Alarm").map(([, a]) => a.Properties);
  const expressions = alarms.flatMap((a) => (a.Metrics ?? []).map((m: any) => String(m.Expression ?? "")));

  it("creates an SNS topic the construct exposes, and every alarm notifies it on alarm and on OK", () => {
    const topics = resourcesOf(synth.template, "AWS::SNS::Topic");
    expect(topics).toHaveLength(1);
    const [topicId] = topics[0]!;
    expect(synth.stack.monitoring.alarmTopic).toBeDefined();
    expect(alarms.length).toBeGreaterThanOrEqual(12);
    for (const alarm of alarms) {
      expect(alarm.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(alarm.OKActions).toEqual([{ Ref: topicId }]);
    }
    synth.template.resourceCountIs("AWS::SNS::Subscription", 0);
  });

  it("alarms on delivery lag in events and seconds, parked events, DLQ depth, listener down, fan-out errors, failing realtime sends and capture slot lag", () => {
    const queried = (metric: string) => expressions.some((e) => e.includes(`(${metric})`));
    for (const metric of [
      "SubscriptionLag",
      "SubscriptionLagSeconds",
      "SubscriptionParked",
      "SubscriptionDeadLetters",
      "SubscriptionOwned",
      "SubscriptionFailing",
      "FanoutFailedPosts",
      "CaptureSlotLagBytes",
    ]) {
      expect(queried(metric), metric).toBe(true);
    }
    expect(
      alarms.some((a) => a.MetricName === "RunningTaskCount" && a.TreatMissingData === "breaching"),
    ).toBe(true);
    expect(
      alarms.some(
        (a) =>
          a.MetricName === "RealtimeFailing" &&
          a.Namespace === "EventBus" &&
          a.Dimensions?.[0]?.Name === "Bus",
      ),
    ).toBe(true);
  });

  it("shows appends, latency, fan-out, connections, lag and capture lag on the dashboard", () => {
    const [[, dashboard]] = resourcesOf(synth.template, "AWS::CloudWatch::Dashboard") as [[string, any]];
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const metric of [
      "Appends",
      "AppendLatency",
      "FanoutLatency",
      "FanoutFailedPosts",
      "RealtimeConnections",
      "SubscriptionLagSeconds",
      "ParkedEvents",
      "RedrivenEvents",
      "CaptureSlotLagBytes",
    ]) {
      expect(body, metric).toContain(`(${metric})`);
    }
    // A line per subscription, run-time ones included: SEARCH over the Subscription dimension.
    const search = (metric: string) => `SEARCH('{EventBus,Bus,Subscription} MetricName="${metric}" Bus="`;
    for (const metric of ["SubscriptionLag", "SubscriptionLagSeconds"]) {
      expect(body.replace(/\\+"/g, '"')).toContain(search(metric));
    }
    // The append function's own invocations and p99 duration, which need no EMF from the bus.
    expect(body).toContain("Append requests");
    expect(body).toContain("Append function p99");
  });

  it("lets the operators' readers read what they show, and no more", () => {
    const actions = (id: string) => grantsOf(synth.template, id).flatMap((g) => g.actions);
    // The DLQ browser looks at messages and leaves them: it can neither send nor delete.
    expect(actions("HttpListDeadLetters")).toContain("sqs:ReceiveMessage");
    expect(actions("HttpListDeadLetters")).not.toContain("sqs:DeleteMessage");
    expect(actions("HttpListDeadLetters")).not.toContain("sqs:SendMessage");
    // The metrics function counts connections (RealtimeConnections): it reads the table, never writes it.
    const table = actions("SubscriptionMetrics").filter((a) => a.startsWith("dynamodb:"));
    expect(table).toContain("dynamodb:Scan");
    expect(table.filter((a) => /Put|Update|Delete|Write/.test(a))).toEqual([]);
  });

  it("stays clean under cdk-nag", () => {
    expect(synth.nagFindings).toEqual([]);
  });
});
