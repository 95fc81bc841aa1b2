import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateQueueCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { issueToken } from "../../lib/auth/token.ts";
import { type CloudEvent, type ConnectionState, createClient } from "../../lib/client/index.ts";
import { createSql } from "../../lib/db/client.ts";
import { type Listener, listenerSqlOptions, startListener } from "../../lib/listener/startListener.ts";
import { startSqsPoller } from "../../lib/local/sqsPoller.ts";
import { createRealtimeTable } from "../../lib/realtime/table.ts";
import { startTestHttpApi, TEST_JWT_SECRET, type TestHttpApi } from "../support/httpApi.ts";

/*
 * The SDK's realtime client while the WebSocket server it talks to is killed with SIGKILL mid-stream and
 * started again on the same port: the gateway runs in a child process (gatewayProcess.ts) with the real
 * route handlers; the HTTP API, listener and broadcaster run here, against Postgres, SQS and DynamoDB
 * stand-ins. A killed server sends no close frame and runs no `$disconnect`: the client learns of it from
 * the reset sockets, and stale memberships are cleaned up by the 410s the broadcaster then gets.
 */

const credentials = { accessKeyId: "test", secretAccessKey: "test" };
let api: TestHttpApi;
let listener: Listener;
let stopPoller: () => Promise<void>;
let listenerSql: ReturnType<typeof createSql>;
let sqs: SQSClient;
let rawDynamo: DynamoDBClient;
let port: number;
let child: ChildProcess | undefined;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port: free } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return free;
}

/** Starts the gateway process on `port`; resolves once it listens. */
async function startGateway(): Promise<void> {
  const started = spawn(process.execPath, ["--import", "tsx", "test/client/gatewayProcess.ts"], {
    env: { ...process.env, GATEWAY_PORT: String(port) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  child = started;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the gateway process did not start in 60 s")), 60_000);
    started.stdout!.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
    started.once("exit", (code) => reject(new Error(`the gateway process exited with ${code}`)));
  });
}

/** SIGKILL: the process dies at once, as on a crash or an OOM kill. */
async function killGateway(): Promise<void> {
  const victim = child;
  if (!victim || victim.exitCode !== null || victim.signalCode !== null) return;
  const exited = new Promise((resolve) => victim.once("exit", resolve));
  victim.kill("SIGKILL");
  await exited;
}

beforeAll(async () => {
  const suffix = randomBytes(5).toString("hex");
  const tableName = `kill-${suffix}`;
  rawDynamo = new DynamoDBClient({ endpoint: inject("dynamoEndpoint"), region: "us-east-1", credentials });
  await createRealtimeTable(rawDynamo, tableName);
  sqs = new SQSClient({
    endpoint: inject("sqsEndpoint"),
    region: "us-east-1",
    credentials,
    useQueueUrlAsEndpoint: false,
  });
  const { QueueUrl: queueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `kill-${suffix}` }));
  port = await freePort();
  // Set in this process's environment, which the gateway process inherits.
  api = await startTestHttpApi({
    AWS_ENDPOINT_URL_DYNAMODB: inject("dynamoEndpoint"),
    AWS_ENDPOINT_URL_SQS: inject("sqsEndpoint"),
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_REGION: "us-east-1",
    EVENTBUS_REALTIME_TABLE: tableName,
    EVENTBUS_REALTIME_QUEUE_URL: queueUrl!,
    EVENTBUS_WS_MANAGEMENT_ENDPOINT: `http://127.0.0.1:${port}`,
  });
  await startGateway();
  const { handler: broadcaster } = await import("../../functions/realtime/broadcaster.ts");
  const poller = startSqsPoller({ sqs, queueUrl: queueUrl!, handler: broadcaster, waitTimeSeconds: 1 });
  stopPoller = () => poller.stop();
  listenerSql = createSql(api.db.url, { ...listenerSqlOptions, max: 4 });
  listener = await startListener({
    sql: listenerSql,
    sqs,
    source: "urn:eventbus",
    realtimeQueueUrl: queueUrl!,
    pollIntervalMs: 1000,
  });
}, 120_000);

afterAll(async () => {
  await killGateway();
  await listener?.stop();
  await listenerSql?.end({ timeout: 5 });
  await stopPoller?.();
  await api?.close();
  sqs?.destroy();
  rawDynamo?.destroy();
});

describe("realtime client while its WebSocket server is killed (SIGKILL) and restarted", () => {
  it("hands every event to the handler exactly once, in order", async () => {
    const client = createClient({
      url: api.baseUrl,
      wsUrl: `ws://127.0.0.1:${port}`,
      token: () => issueToken(TEST_JWT_SECRET, { scope: "admin" }),
      realtime: { initialDelayMs: 50, maxDelayMs: 500, pingIntervalMs: 1000, pongTimeoutMs: 2000 },
    });
    const states: ConnectionState[] = [];
    client.realtime.on("state", (state) => states.push(state));
    const opens = () => states.filter((s) => s === "open").length;
    const first = await api.request("POST", "/streams/kill-0/events", { body: { type: "Start" } });
    const category: bigint[] = [];
    const live: bigint[] = [];
    await client.subscribe("category:kill", { from: first.body.events[0].position }, (event: CloudEvent) => {
      category.push(BigInt(event.position));
    });
    // Live-only: it resumes after the head its subscribe ack reported, then after its last event.
    await client.subscribe("stream:kill-1", {}, (event: CloudEvent) => {
      live.push(BigInt(event.position));
    });

    const appended: bigint[] = [BigInt(first.body.events[0].position)];
    const appendedToStream1: bigint[] = [];
    let appending = true;
    const appender = (async () => {
      for (let i = 0; appending; i++) {
        const streamId = `kill-${i % 3}`;
        const response = await api.request("POST", `/streams/${streamId}/events`, {
          body: [
            { type: "Tick", data: { i, n: 0 } },
            { type: "Tick", data: { i, n: 1 } },
          ],
        });
        expect(response.status).toBe(201);
        const positions = response.body.events.map((e: { position: number | string }) => BigInt(e.position));
        appended.push(...positions);
        if (streamId === "kill-1") appendedToStream1.push(...positions);
        await sleep(20);
      }
    })();

    for (let round = 0; round < 2; round++) {
      await sleep(500);
      const before = opens();
      await killGateway();
      // Down while appends go on, then a new process on the same port (tsx start included).
      await sleep(300);
      await startGateway();
      await waitFor(() => opens() > before, 20_000, "a reconnect after the restart");
    }
    await sleep(500);
    appending = false;
    await appender;

    await waitFor(() => category.length >= appended.length, 30_000, `${appended.length} events`);
    await waitFor(() => live.length >= appendedToStream1.length, 10_000, "the live-only stream's events");
    await sleep(500); // a duplicate would arrive now
    expect(category).toEqual(appended);
    expect(live).toEqual(appendedToStream1);
    expect(states.filter((s) => s === "reconnecting").length).toBeGreaterThanOrEqual(2);
    client.close();
  }, 180_000);
});
