import { describe, expect, it } from "vitest";
import { compileInputTransformer, parseInputTransformer } from "../../lib/subscriptions/inputTransform.ts";

/** AWS's documented examples (InputTransformer API reference), over an event shaped like theirs. */
const event = {
  id: "7bf73129",
  source: "aws.ec2",
  detail: { instance: "i-0123456789", status: "RUNNING", tags: [{ k: "a" }, { k: "b" }] },
};
const transform = (inputPathsMap: Record<string, string>, inputTemplate: string) =>
  compileInputTransformer(parseInputTransformer({ inputPathsMap, inputTemplate }))({
    event,
    eventJson: JSON.stringify(event),
    ingestionTime: new Date("2024-05-01T00:00:00Z"),
    subscriptionName: "ec2-watch",
  });
const paths = { instance: "$.detail.instance", status: "$.detail.status" };

describe("input transformer, AWS's documented examples", () => {
  it("a text template", () => {
    expect(transform(paths, "<instance> is in state <status>")).toBe("i-0123456789 is in state RUNNING");
  });

  it("a text template with escaped quotes", () => {
    expect(transform(paths, '<instance> is in state "<status>"')).toBe('i-0123456789 is in state "RUNNING"');
  });

  it("a JSON template with variables in quotes or out", () => {
    const out = transform(
      paths,
      '{"myInstance": <instance>,"myStatus": "<instance> is in state \\"<status>\\""}',
    );
    expect(JSON.parse(out)).toEqual({
      myInstance: "i-0123456789",
      myStatus: 'i-0123456789 is in state "RUNNING"',
    });
  });

  it("array indices, wildcards, the predefined variables", () => {
    const out = transform(
      { first: "$.detail.tags[0].k", all: "$.detail.tags[*].k", root: "$" },
      '{"first": "<first>", "all": <all>, "by": "<aws.events.rule-name>", "at": "<aws.events.event.ingestion-time>", "id": <root>}',
    );
    expect(JSON.parse(out)).toEqual({
      first: "a",
      all: ["a", "b"],
      by: "ec2-watch",
      at: "2024-05-01T00:00:00.000Z",
      id: event,
    });
  });
});
