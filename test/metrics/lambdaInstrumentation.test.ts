import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueToken } from "../../lib/auth/token.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

const SECRET = "lambda-instrumentation-secret-0123456789";
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  // As on Lambda: the runtime module sees these when the handler modules load below.
  Object.assign(process.env, {
    AWS_LAMBDA_FUNCTION_NAME: "eventbus-test-append",
    POWERTOOLS_TRACE_ENABLED: "false",
    DATABASE_URL: db.url,
    EVENTBUS_JWT_SECRET: SECRET,
    EVENTBUS_NAME: "instrumented",
  });
});
afterAll(async () => {
  delete process.env.AWS_LAMBDA_FUNCTION_NAME;
  const { getRuntime } = await import("../../functions/shared/runtime.ts");
  await (await getRuntime()).sql.end({ timeout: 5 });
  await db.close();
});

/** An API Gateway HTTP API (payload 2.0) event for the append route. */
function appendEvent(token: string, body: unknown) {
  return {
    version: "2.0",
    routeKey: "POST /streams/{streamId}/events",
    rawPath: "/streams/metered-1/events",
    rawQueryString: "",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    pathParameters: { streamId: "metered-1" },
    requestContext: { http: { method: "POST", path: "/streams/metered-1/events" } },
    body: JSON.stringify(body),
    isBase64Encoded: false,
  };
}

const lambdaContext = {
  functionName: "eventbus-test-append",
  awsRequestId: "req-1",
  getRemainingTimeInMillis: () => 10_000,
} as never;

describe("HTTP handlers on Lambda", () => {
  it("publish request and append figures as CloudWatch EMF after each invocation", async () => {
    const { handler } = await import("../../functions/http/appendEvents.ts");
    const token = await issueToken(SECRET, { scope: "admin" });
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      lines.push(String(chunk));
      return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stdout.write;
    let result: { statusCode?: number };
    try {
      result = (await handler(appendEvent(token, { type: "Metered" }) as never, lambdaContext)) as {
        statusCode?: number;
      };
    } finally {
      process.stdout.write = write;
    }
    expect(result.statusCode).toBe(201);
    const emf = lines
      .flatMap((chunk) => chunk.split("\n"))
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const figures = emf.find((record) => "Appends" in record);
    expect(figures).toMatchObject({ Appends: 1, Bus: "instrumented", AppendLatency: expect.any(Number) });
    const directives = (figures!._aws as { CloudWatchMetrics: Array<{ Namespace: string }> })
      .CloudWatchMetrics;
    expect(directives[0]!.Namespace).toBe("EventBus");

    // The request figures under CloudWatch names, latency in milliseconds, the route (and for the count,
    // the status) as dimensions.
    const latency = emf.find((record) => "HttpRequestLatency" in record);
    expect(latency).toMatchObject({
      Route: "POST /streams/{streamId}/events",
      HttpRequestLatency: expect.any(Number),
    });
    const [latencyDirective] = (latency!._aws as { CloudWatchMetrics: Array<Record<string, unknown>> })
      .CloudWatchMetrics;
    expect(latencyDirective).toMatchObject({
      Namespace: "EventBus",
      Dimensions: [expect.arrayContaining(["Bus", "Route"])],
      Metrics: [{ Name: "HttpRequestLatency", Unit: "Milliseconds" }],
    });
    // Milliseconds, not seconds: an append through Postgres takes more than a thousandth of one.
    expect(latency!.HttpRequestLatency as number).toBeGreaterThan(0.5);
    expect(emf.find((record) => "HttpRequests" in record)).toMatchObject({ HttpRequests: 1, Status: "201" });
    expect(emf.some((record) => Object.keys(record).some((key) => key.startsWith("eventbus_")))).toBe(false);
  });
});
