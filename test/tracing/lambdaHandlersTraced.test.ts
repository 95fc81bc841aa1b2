import { createSocket } from "node:dgram";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

/*
 * The WebSocket handlers and the registration custom resource as they run on Lambda with active tracing:
 * each invocation's handler subsegment, and those of its AWS SDK calls, reach the X-Ray daemon (a UDP
 * socket stands in for it) inside the function's trace.
 */
const ENV = {
  AWS_LAMBDA_FUNCTION_NAME: "eventbus-test-ws",
  AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x",
  LAMBDA_TASK_ROOT: "/var/task",
  _HANDLER: "index.handler",
  AWS_XRAY_CONTEXT_MISSING: "IGNORE_ERROR",
  POWERTOOLS_METRICS_DISABLED: "true",
  EVENTBUS_JWT_SECRET: "traced-handlers-secret-0123456789abcdef",
  EVENTBUS_REALTIME_TABLE: "traced-handlers-missing-table",
  EVENTBUS_WS_MANAGEMENT_ENDPOINT: "http://127.0.0.1:9",
  AWS_ACCESS_KEY_ID: "test",
  AWS_SECRET_ACCESS_KEY: "test",
};
const daemon = createSocket("udp4");
const documents: Array<Record<string, any>> = [];
daemon.on("message", (message) => {
  const [, body] = message.toString().split("\n");
  if (body) documents.push(JSON.parse(body));
});
let db: TestDatabase;

beforeAll(async () => {
  await new Promise<void>((resolve) => daemon.bind(0, "127.0.0.1", resolve));
  db = await createTestDatabase();
  Object.assign(process.env, ENV, {
    AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${(daemon.address() as AddressInfo).port}`,
    AWS_ENDPOINT_URL_DYNAMODB: inject("dynamoEndpoint"),
    DATABASE_URL: db.url,
  });
});
afterAll(async () => {
  const { getRuntime } = await import("../../functions/shared/runtime.ts");
  await (await getRuntime()).sql.end({ timeout: 5 });
  for (const name of [...Object.keys(ENV), "AWS_XRAY_DAEMON_ADDRESS", "AWS_ENDPOINT_URL_DYNAMODB"]) {
    delete process.env[name];
  }
  daemon.close();
  await db.close();
});

/** Runs one invocation under its own trace id, as Lambda sets it, and returns what reached the daemon. */
async function invoke(root: string, run: () => Promise<unknown>) {
  process.env._X_AMZN_TRACE_ID = `Root=${root};Parent=53995c3f42cd8ad8;Sampled=1`;
  const result = await run();
  await expect
    .poll(() => documents.some((d) => d.trace_id === root && d.name === "## index.handler"), {
      timeout: 5_000,
    })
    .toBe(true);
  await new Promise((resolve) => setTimeout(resolve, 100)); // the SDK calls' subsegments, if any
  return { result, segments: documents.filter((d) => d.trace_id === root) };
}

const wsEvent = (routeKey: string, body?: string) => ({
  requestContext: {
    connectionId: "c-1",
    routeKey,
    connectedAt: Date.now(),
    domainName: "localhost",
    stage: "test",
  },
  ...(body === undefined ? {} : { body }),
  isBase64Encoded: false,
});

describe("traced on Lambda", () => {
  it("$connect: the handler's subsegment, in the function's trace", async () => {
    const { handler } = await import("../../functions/ws/connect.ts");
    const root = "1-5759e988-bd862e3fe1be46a994272701";
    const { result, segments } = await invoke(root, () => handler(wsEvent("$connect") as never, {}));
    expect(result).toMatchObject({ statusCode: 401 });
    expect(segments.find((d) => d.name === "## index.handler")).toMatchObject({
      parent_id: "53995c3f42cd8ad8",
      annotations: { ColdStart: expect.any(Boolean), Service: "eventbus-ws" },
    });
  });

  it("ping: its DynamoDB read is a subsegment of the handler's", async () => {
    const { handler } = await import("../../functions/ws/ping.ts");
    const root = "1-5759e988-bd862e3fe1be46a994272702";
    const { segments } = await invoke(root, () =>
      handler(wsEvent("ping", JSON.stringify({ action: "ping", id: "1" })) as never, {}),
    );
    const handlerSegment = segments.find((d) => d.name === "## index.handler")!;
    const calls = [handlerSegment, ...segments].flatMap((d) => d.subsegments ?? [d]);
    expect(calls.some((d) => d.name === "DynamoDB" && d.aws?.operation === "GetItem")).toBe(true);
  });

  it("the registration custom resource", async () => {
    const { handler } = await import("../../functions/registerSubscription/handler.ts");
    const root = "1-5759e988-bd862e3fe1be46a994272703";
    const { result } = await invoke(root, () =>
      handler(
        {
          RequestType: "Delete",
          PhysicalResourceId: "audit",
          ResourceProperties: { Name: "audit", Definition: "{}", RetainOnDelete: "true" },
        } as never,
        {},
      ),
    );
    expect(result).toEqual({ PhysicalResourceId: "audit" });
  });
});
