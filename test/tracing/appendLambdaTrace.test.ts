import { createSocket } from "node:dgram";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueToken } from "../../lib/auth/token.ts";
import { readStream } from "../../lib/events/readStream.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

/*
 * The append handler as it runs on Lambda with active tracing: the X-Ray SDK in its Lambda mode builds the
 * function's segment from `_X_AMZN_TRACE_ID`, the Powertools tracer opens the handler's subsegment and
 * streams it to the X-Ray daemon, for which a UDP socket stands in. The events must continue that trace,
 * whatever API Gateway put in the request's own `X-Amzn-Trace-Id`.
 */
const SECRET = "append-lambda-trace-secret-0123456789";
// Lambda's own header for the invocation, in the form AWS documents for `_X_AMZN_TRACE_ID`.
const LAMBDA_ROOT = "1-5759e988-bd862e3fe1be46a994272793";
const FUNCTION_SEGMENT = "53995c3f42cd8ad8";
const ENV = {
  AWS_LAMBDA_FUNCTION_NAME: "eventbus-test-append",
  AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x",
  LAMBDA_TASK_ROOT: "/var/task",
  _HANDLER: "index.handler",
  _X_AMZN_TRACE_ID: `Root=${LAMBDA_ROOT};Parent=${FUNCTION_SEGMENT};Sampled=1;Lineage=a87bd80c:0`,
  AWS_XRAY_CONTEXT_MISSING: "IGNORE_ERROR",
  POWERTOOLS_METRICS_DISABLED: "true",
  EVENTBUS_NAME: "traced",
};

const daemon = createSocket("udp4");
const documents: Array<Record<string, unknown>> = [];
daemon.on("message", (message) => {
  const [, body] = message.toString().split("\n");
  if (body) documents.push(JSON.parse(body) as Record<string, unknown>);
});
let db: TestDatabase;

beforeAll(async () => {
  await new Promise<void>((resolve) => daemon.bind(0, "127.0.0.1", resolve));
  db = await createTestDatabase();
  Object.assign(process.env, ENV, {
    AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${(daemon.address() as AddressInfo).port}`,
    DATABASE_URL: db.url,
    EVENTBUS_JWT_SECRET: SECRET,
  });
});
afterAll(async () => {
  const { getRuntime } = await import("../../functions/shared/runtime.ts");
  await (await getRuntime()).sql.end({ timeout: 5 });
  for (const name of [...Object.keys(ENV), "AWS_XRAY_DAEMON_ADDRESS"]) delete process.env[name];
  daemon.close();
  await db.close();
});

function appendEvent(token: string, headers: Record<string, string>, body: unknown) {
  return {
    version: "2.0",
    routeKey: "POST /streams/{streamId}/events",
    rawPath: "/streams/traced-1/events",
    rawQueryString: "",
    headers: { authorization: `Bearer ${token}`, ...headers },
    pathParameters: { streamId: "traced-1" },
    requestContext: { http: { method: "POST", path: "/streams/traced-1/events" } },
    body: JSON.stringify(body),
    isBase64Encoded: false,
  };
}
const lambdaContext = {
  functionName: "eventbus-test-append",
  awsRequestId: "req-1",
  getRemainingTimeInMillis: () => 10_000,
} as never;

describe("append on Lambda with X-Ray", () => {
  it("stamps events with the Lambda's trace, the handler's subsegment as their parent", async () => {
    const { handler } = await import("../../functions/http/appendEvents.ts");
    const token = await issueToken(SECRET, { scope: "admin" });
    const producer = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const result = (await handler(
      appendEvent(
        token,
        {
          "content-type": "application/cloudevents-batch+json",
          // What API Gateway adds to the request: a root with no parent (AWS's documented example).
          "x-amzn-trace-id": "Root=1-67891233-abcdef012345678912345678",
          traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        },
        [
          { specversion: "1.0", id: "e-1", source: "urn:test", type: "Traced" },
          { specversion: "1.0", id: "e-2", source: "urn:test", type: "Traced", traceparent: producer },
        ],
      ) as never,
      lambdaContext,
    )) as { statusCode: number; body: string };
    expect(result.statusCode).toBe(201);

    // The handler's subsegment reached the daemon, inside the function's segment of the Lambda's trace.
    await expect.poll(() => documents.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(1);
    const handlerSegment = documents.find((d) => d.name === "## index.handler");
    expect(handlerSegment).toMatchObject({ trace_id: LAMBDA_ROOT, parent_id: FUNCTION_SEGMENT });
    expect(handlerSegment?.annotations).toMatchObject({
      request_traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      producer_trace_id: "1-0af76519-16cd43dd8448eb211c80319c",
    });
    // The event that kept its producer's trace: the append is a segment of that trace too, under the
    // producer's span, and names the Lambda's trace.
    await expect
      .poll(() => documents.find((d) => d.name === "eventbus-append"))
      .toMatchObject({
        trace_id: "1-0af76519-16cd43dd8448eb211c80319c",
        parent_id: "b7ad6b7169203331",
        origin: "AWS::Lambda::Function",
        annotations: { streamid: "traced-1", lambda_trace_id: LAMBDA_ROOT },
      });
    expect(documents.filter((d) => d.name === "eventbus-append")).toHaveLength(1);

    const { events } = await readStream(db.sql, "traced-1");
    expect(events.map((event) => event.attributes?.traceparent)).toEqual([
      `00-5759e988bd862e3fe1be46a994272793-${handlerSegment?.id}-01`,
      // A producer's own traceparent on the event is the trace that started it: kept.
      producer,
    ]);
  });
});
