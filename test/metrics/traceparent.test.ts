import { describe, expect, it } from "vitest";
import {
  continueTrace,
  fromXRayHeader,
  parseTraceparent,
  parseXRayHeader,
  sqsTraceAttributes,
  traceparentForAppend,
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

  // The forms of X-Amzn-Trace-Id AWS documents: API Gateway's and the load balancers' root alone, with a
  // sampling decision, with a parent, with Self, and Lambda's _X_AMZN_TRACE_ID with its Lineage.
  it("reads every documented X-Ray header form, a root with no parent included", () => {
    expect(parseXRayHeader("Root=1-5759e988-bd862e3fe1be46a994272793")).toEqual({
      traceId: "5759e988bd862e3fe1be46a994272793",
    });
    expect(parseXRayHeader("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")).toEqual({
      traceId: "5759e988bd862e3fe1be46a994272793",
      sampled: true,
    });
    expect(
      parseXRayHeader("Self=1-67891233-12456789abcdef012345678;Root=1-67891233-abcdef012345678912345678"),
    ).toEqual({ traceId: "67891233abcdef012345678912345678" });
    expect(
      parseXRayHeader(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=557abcec3ee5a047;Sampled=0;Lineage=a87bd80c:0",
      ),
    ).toEqual({ traceId: "5759e988bd862e3fe1be46a994272793", parentId: "557abcec3ee5a047", sampled: false });
    for (const bad of ["Parent=53995c3f42cd8ad8;Sampled=1", "Root=1-5759e988-bd86", "", undefined]) {
      expect(parseXRayHeader(bad)).toBeUndefined();
    }
    // With no parent, the work the header starts gets a span id of its own, in the same trace.
    const context = fromXRayHeader("Root=1-5759e988-bd862e3fe1be46a994272793");
    expect(context).toMatchObject({ traceId: "5759e988bd862e3fe1be46a994272793", sampled: false });
    expect(context?.parentId).toMatch(/^[0-9a-f]{16}$/);
    expect(traceparentForRequest({ "x-amzn-trace-id": "Root=1-5759e988-bd862e3fe1be46a994272793" })).toMatch(
      /^00-5759e988bd862e3fe1be46a994272793-[0-9a-f]{16}-00$/,
    );
  });

  it("puts an append's events in the Lambda's own trace, ahead of the request's headers", () => {
    const lambdaTrace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    const apiGateway = "Root=1-67891233-abcdef012345678912345678";
    expect(traceparentForAppend({ lambdaTrace, headers: { "x-amzn-trace-id": apiGateway } })).toBe(
      "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
    );
    expect(traceparentForAppend({ lambdaTrace, headers: { traceparent: W3C } })).toBe(
      "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
    );
    // Unsampled on Lambda: the flag says so, and the listener records no segment for it.
    expect(
      traceparentForAppend({ lambdaTrace: lambdaTrace.replace("Sampled=1", "Sampled=0"), headers: {} }),
    ).toBe("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00");
    // Off Lambda (npm run dev, tracing off), the request's own trace.
    expect(traceparentForAppend({ lambdaTrace: undefined, headers: { traceparent: W3C } })).toBe(W3C);
    expect(traceparentForAppend({ lambdaTrace: undefined, headers: {} })).toBeUndefined();
  });
});
