import { expect, it } from "vitest";
import { producerTraceSegments } from "../../lib/tracing/appendSegments.ts";

const LAMBDA = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
const trace = (n: number, flags = "01") => `00-${String(n).padStart(32, "a")}-00f067aa0ba902b7-${flags}`;

it("records the append once in each sampled producer trace that is not the Lambda's own", () => {
  const segments = producerTraceSegments({
    traceparents: [
      trace(1),
      trace(1), // the same trace twice: one segment
      trace(2, "00"), // not sampled: nobody records it
      "00-5759e988bd862e3fe1be46a994272793-b7ad6b7169203331-01", // the Lambda's own trace already
      "bogus",
      undefined,
      trace(3),
    ],
    lambdaTrace: LAMBDA,
    streamId: "orders-1",
    startTime: 100,
    endTime: 100.02,
  });
  expect(segments.map((s) => s.trace_id)).toEqual([
    `1-aaaaaaaa-${"a".repeat(23)}1`,
    `1-aaaaaaaa-${"a".repeat(23)}3`,
  ]);
  expect(segments[0]).toMatchObject({
    name: "eventbus-append",
    parent_id: "00f067aa0ba902b7",
    start_time: 100,
    end_time: 100.02,
    annotations: { streamid: "orders-1", lambda_trace_id: "1-5759e988-bd862e3fe1be46a994272793" },
  });
  expect(segments[0]!.id).toMatch(/^[0-9a-f]{16}$/);
  expect(
    producerTraceSegments({
      traceparents: Array.from({ length: 50 }, (_, i) => trace(i + 10)),
      lambdaTrace: undefined,
      streamId: "s",
      startTime: 0,
      endTime: 0,
    }),
  ).toHaveLength(10);
});
