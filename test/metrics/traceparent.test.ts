import { describe, expect, it } from "vitest";
import {
  continueTrace,
  fromXRayHeader,
  parseTraceparent,
  sqsTraceAttributes,
  traceparentForRequest,
  withTraceparent,
} from "../../lib/tracing/traceparent.ts";

// Examples from the W3C Trace Context spec and AWS X-Ray's documentation.
const W3C = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const XRAY = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

describe("trace context", () => {
  it("parses a valid traceparent and ignores malformed or all-zero ones", () => {
    expect(parseTraceparent(W3C)).toEqual({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      parentId: "00f067aa0ba902b7",
      sampled: true,
    });
    for (const bad of [
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
      "garbage",
      42,
    ]) {
      expect(parseTraceparent(bad)).toBeUndefined();
    }
  });

  it("converts between X-Ray headers and traceparent without loss", () => {
    const context = fromXRayHeader(XRAY)!;
    expect(context).toEqual({
      traceId: "5759e988bd862e3fe1be46a994272793",
      parentId: "53995c3f42cd8ad8",
      sampled: true,
    });
    expect(
      continueTrace({ traceparent: "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01" })?.xrayHeader,
    ).toBe(XRAY);
    expect(sqsTraceAttributes({ traceparent: W3C })).toEqual({
      AWSTraceHeader: {
        DataType: "String",
        StringValue: "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1",
      },
    });
    expect(sqsTraceAttributes({})).toBeUndefined();
  });

  it("stamps the request's trace on events that carry none, and keeps the producer's own", () => {
    expect(traceparentForRequest({ traceparent: W3C, "x-amzn-trace-id": XRAY })).toBe(W3C);
    expect(traceparentForRequest({ "x-amzn-trace-id": XRAY })).toBe(
      "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
    );
    expect(traceparentForRequest({ traceparent: "bogus" })).toBeUndefined();
    expect(traceparentForRequest({})).toBeUndefined();

    const producers = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    expect(withTraceparent({ type: "A", traceparent: producers }, W3C).traceparent).toBe(producers);
    expect(withTraceparent({ type: "A" }, W3C)).toEqual({ type: "A", traceparent: W3C });
    expect(withTraceparent({ type: "A", traceparent: "bogus" }, W3C).traceparent).toBe(W3C);
    const untouched = { type: "A" };
    expect(withTraceparent(untouched, undefined)).toBe(untouched);
  });
});
