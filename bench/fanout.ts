/**
 * `npm run bench:fanout`: 1,000 WebSocket clients subscribed to one topic. Measures, per client, the time
 * from an append over HTTP (and from an HTTP publish) until the client has the event (the message), through
 * the whole local path: Postgres NOTIFY, listener, SQS, broadcaster Lambda, DynamoDB, PostToConnection,
 * gateway. Beside it, in the same run, a raw `ws` server broadcasting to 1,000 clients of its own.
 * Prints p50/p99/max (the target is every client within 1 s), the CPU each part of the path spent per
 * fan-out (which, unlike latency, a neighbour's load on a shared machine barely moves), and the DynamoDB
 * requests per event with 0, 1 and all subscribers. Bounded: exits after BENCH_TIMEOUT_S.
 * BENCH_CLIENTS (1000), BENCH_ROUNDS (5), BENCH_WARMUP_ROUNDS (3), BENCH_BROADCASTERS (2); BENCH_PROF_DIR
 * writes CPU profiles of every process and prints the measured rounds' window in their clock.
 */

import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { WebSocketServer } from "ws";
import { issueToken } from "../lib/auth/token.ts";
import { createSql } from "../lib/db/client.ts";
import { migrate } from "../lib/db/migrate.ts";
import { listenerSqlOptions, startListener } from "../lib/listener/startListener.ts";
import { startDynamoServer } from "../lib/local/dynamoServer.ts";
import { freePort } from "../lib/local/embeddedPostgres.ts";
import { createHttpAdapter, listen } from "../lib/local/httpAdapter.ts";
import { startSqsServer } from "../lib/local/sqsServer.ts";
import { createRealtimeTable } from "../lib/realtime/table.ts";
import type { ClientCommand } from "./fanoutClients.ts";
import { cpuSnapshot } from "./processCpu.ts";
import { benchPostgres } from "./support.ts";

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WARMUP_ROUNDS = Number(process.env.BENCH_WARMUP_ROUNDS ?? 3);
// Connecting and subscribing takes about 20 ms per client here (10,000: 3.5 minutes), the rounds far less.
const TIMEOUT_S = Number(process.env.BENCH_TIMEOUT_S ?? Math.max(180, CLIENTS * 0.12));
/** Concurrent broadcaster invocations (Lambda scales these out; a large topic is split among them). */
const BROADCASTERS = Number(process.env.BENCH_BROADCASTERS ?? 2);
const TARGET_MS = 1000;
const ROUND_TIMEOUT_MS = 10_000;

setTimeout(() => {
  console.error(`bench:fanout did not finish within ${TIMEOUT_S}s`);
  process.exit(1);
}, TIMEOUT_S * 1000).unref();

const region = "us-east-1";
const credentials = { accessKeyId: "bench", secretAccessKey: "bench" };
const suffix = randomBytes(4).toString("hex");

// --- the local bus -------------------------------------------------------------------------------------
const pg = await benchPostgres();
const sql = createSql(pg.url, { max: 4 });
await migrate(sql);
const sqsServer = await startSqsServer({ port: 0 });
const dynamoServer = await startDynamoServer({ port: 0 });
const tableName = `bench-realtime-${suffix}`;
const dynamo = new DynamoDBClient({ endpoint: dynamoServer.endpoint, region, credentials });
await createRealtimeTable(dynamo, tableName);
const sqs = new SQSClient({
  endpoint: sqsServer.endpoint,
  region,
  credentials,
  useQueueUrlAsEndpoint: false,
});
const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `bench-realtime-${suffix}` })))
  .QueueUrl!;

const gatewayPort = await freePort();
const secret = "bench-secret-bench-secret-bench-secret";
Object.assign(process.env, {
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  DATABASE_URL: pg.url,
  EVENTBUS_JWT_SECRET: secret,
  AWS_REGION: region,
  AWS_ACCESS_KEY_ID: credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
  AWS_ENDPOINT_URL_SQS: sqsServer.endpoint,
  AWS_ENDPOINT_URL_DYNAMODB: dynamoServer.endpoint,
  EVENTBUS_REALTIME_TABLE: tableName,
  EVENTBUS_REALTIME_QUEUE_URL: queueUrl,
  EVENTBUS_WS_MANAGEMENT_ENDPOINT: `http://127.0.0.1:${gatewayPort}`,
});

/**
 * A child process running a TypeScript module, and a way to ask it (one question at a time). Processes,
 * not worker threads: each broadcaster is an execution environment of its own, as on Lambda; each
 * WebSocket endpoint costs a file descriptor, and 10,000 clients with the gateway's 10,000 sockets (and the
 * raw baseline's as many again) do not fit one process's limit; and each process's CPU can be told apart.
 */
function tsProcess(file: string) {
  const child = fork(fileURLToPath(new URL(file, import.meta.url)), [], {
    // BENCH_PROF_DIR: CPU profiles of every process and thread (see the rounds window printed at the end).
    execArgv: [
      "--import",
      "tsx",
      ...(process.env.BENCH_PROF_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROF_DIR}`] : []),
    ],
    env: process.env, // the environment set above
    serialization: "advanced",
  });
  const ask = <T>(message: unknown) =>
    new Promise<T>((resolve, reject) => {
      child.once("message", (reply: T & { ok: boolean; error?: string }) =>
        reply.ok ? resolve(reply) : reject(new Error(reply.error)),
      );
      child.send(message as never);
    });
  return {
    ask,
    ready: () => new Promise((resolve) => child.once("message", resolve)),
    cpuMs: async () => (await ask<{ ms: number }>({ cmd: "cpu" })).ms,
    stop: async () => {
      // A profiled process writes its profile on a clean exit (it exits on SIGTERM; see fanoutGateway.ts).
      child.kill(process.env.BENCH_PROF_DIR ? "SIGTERM" : "SIGKILL");
    },
  };
}
const broadcasters = Array.from({ length: BROADCASTERS }, () => tsProcess("./fanoutBroadcaster.ts"));
const gateway = tsProcess("./fanoutGateway.ts");
await Promise.all([...broadcasters, gateway].map((child) => child.ready()));
const { url: gatewayUrl } = await gateway.ask<{ url: string }>({ cmd: "start", port: gatewayPort });
const { loadLocalHttpRoutes } = await import("../functions/http/localRoutes.ts");
const http = createHttpAdapter(await loadLocalHttpRoutes());
const baseUrl = await listen(http, 0);
const listenerSql = createSql(pg.url, { ...listenerSqlOptions, max: 4 });
const listener = await startListener({
  sql: listenerSql,
  sqs,
  source: "urn:eventbus",
  realtimeQueueUrl: queueUrl,
});
const token = await issueToken(secret, { scope: "admin" });

// --- clients ------------------------------------------------------------------------------------------
// One process per group of clients (each holds CLIENTS sockets).
const clientGroups = { bus: tsProcess("./fanoutClients.ts"), raw: tsProcess("./fanoutClients.ts") };
const call = (command: ClientCommand) => {
  const group =
    command.cmd === "connect"
      ? command.group
      : command.cmd === "expect" && command.key.startsWith("raw-")
        ? "raw"
        : "bus";
  return clientGroups[group as keyof typeof clientGroups].ask<{ times?: number[] }>(command);
};
const now = () => performance.timeOrigin + performance.now();

// --- DynamoDB requests per event (what DynamoDB bills), with 0, 1 and CLIENTS subscribers -----------------
const COST_EVENTS = Number(process.env.BENCH_COST_EVENTS ?? 20);
async function queueDrained() {
  for (;;) {
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    if (
      Number(Attributes.ApproximateNumberOfMessages) +
        Number(Attributes.ApproximateNumberOfMessagesNotVisible) ===
      0
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
/** Appends COST_EVENTS events one at a time (one fan-out batch each) and counts the DynamoDB requests. */
async function requestsPerEvent(): Promise<{ perEvent: number; byOperation: Record<string, number> }> {
  await queueDrained();
  await new Promise((resolve) => setTimeout(resolve, 300));
  dynamoServer.resetRequestCounts();
  for (let i = 0; i < COST_EVENTS; i++) {
    await post("/streams/bench-1/events", { type: "Cost", data: { key: `cost-${i}` } }, 201);
    await new Promise((resolve) => setTimeout(resolve, 20)); // one listener batch per event
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  await queueDrained();
  const byOperation = dynamoServer.requestCounts();
  const total = Object.values(byOperation).reduce((sum, n) => sum + n, 0);
  return { perEvent: total / COST_EVENTS, byOperation };
}
const cost: Array<{ subscribers: number; perEvent: number; byOperation: Record<string, number> }> = [];
cost.push({ subscribers: 0, ...(await requestsPerEvent()) });

const started = performance.now();
const busUrl = `${gatewayUrl}/?token=${token}`;
const busTopics = ["category:bench", "room:bench"];
await call({ cmd: "connect", group: "bus", url: busUrl, count: 1, topics: busTopics });
cost.push({ subscribers: 1, ...(await requestsPerEvent()) });
await call({ cmd: "connect", group: "bus", url: busUrl, count: CLIENTS - 1, topics: busTopics });
const setupSeconds = (performance.now() - started) / 1000;
cost.push({ subscribers: CLIENTS, ...(await requestsPerEvent()) });
const raw = new WebSocketServer({ port: 0, host: "127.0.0.1" });
await new Promise((resolve) => raw.once("listening", resolve));
await call({
  cmd: "connect",
  group: "raw",
  url: `ws://127.0.0.1:${(raw.address() as { port: number }).port}`,
  count: CLIENTS,
  topics: [],
});

// --- rounds --------------------------------------------------------------------------------------------
const selfCpuMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

/** CPU ms used so far by each part: what a fan-out costs, whatever the neighbours' load. */
async function cpuByPart(): Promise<Record<string, number>> {
  const [broadcasterMs, gatewayMs, busClientsMs, rawClientsMs] = await Promise.all([
    Promise.all(broadcasters.map((b) => b.cpuMs())),
    gateway.cpuMs(),
    clientGroups.bus.cpuMs(),
    clientGroups.raw.cpuMs(),
  ]);
  const { self, children } = cpuSnapshot();
  let postgresMs = 0;
  for (const { comm, ms } of children.values()) if (comm === "postgres") postgresMs += ms;
  return {
    broadcasters: broadcasterMs.reduce((sum, ms) => sum + ms, 0),
    gateway: gatewayMs,
    clients: busClientsMs + rawClientsMs,
    main: self,
    postgres: postgresMs,
  };
}

async function measure(
  key: string,
  trigger: () => Promise<void>,
): Promise<{ times: number[]; cpu: Record<string, number> }> {
  const before = await cpuByPart();
  // This process's own CPU from here: the /proc scan `cpuByPart` just made (10-20 ms with the other
  // processes of a shared machine) is the bench's, not the bus's or the raw server's.
  before.main = selfCpuMs();
  const t0 = now();
  await trigger();
  const { times = [] } = await call({ cmd: "expect", key, count: CLIENTS, deadline: t0 + ROUND_TIMEOUT_MS });
  if (times.length < CLIENTS) console.error(`  ${key}: only ${times.length}/${CLIENTS} clients received it`);
  const after = await cpuByPart();
  const cpu = Object.fromEntries(Object.keys(after).map((part) => [part, after[part]! - before[part]!]));
  return { times: times.map((t) => t - t0), cpu };
}

async function post(path: string, body: unknown, status: number) {
  const response = await fetch(`${baseUrl}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (response.status !== status) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  await response.arrayBuffer();
}

const results = { append: [] as number[], publish: [] as number[], raw: [] as number[] };
const cpuSpent = { append: {}, publish: {}, raw: {} } as Record<keyof typeof results, Record<string, number>>;
// The monotonic clock (µs) that `--cpu-prof` profiles of every process use: to profile the rounds only.
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);
let roundsStartedUs = 0;
// Warm-up rounds, not counted: the first invocations load modules, open connections and run cold code
// (a warm Lambda execution environment is the steady state being measured).
for (let round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
  const append = await measure(`append-${round}`, () =>
    post("/streams/bench-1/events", { type: "Tick", data: { key: `append-${round}` } }, 201),
  );
  const publish = await measure(`publish-${round}`, () =>
    post("/topics/room:bench/messages", { data: { key: `publish-${round}` } }, 202),
  );
  const rawTimes = await measure(`raw-${round}`, async () => {
    const frame = JSON.stringify({
      type: "message",
      topic: "room:bench",
      data: { key: `raw-${round}` },
      sender: null,
    });
    for (const client of raw.clients) client.send(frame);
  });
  if (round < 0) {
    roundsStartedUs = monotonicUs();
    continue;
  }
  for (const [name, measured] of [
    ["append", append],
    ["publish", publish],
    ["raw", rawTimes],
  ] as const) {
    results[name].push(...measured.times);
    for (const [part, ms] of Object.entries(measured.cpu)) {
      cpuSpent[name][part] = (cpuSpent[name][part] ?? 0) + ms;
    }
  }
}

if (process.env.BENCH_PROF_DIR) console.error(`rounds window (µs): ${roundsStartedUs} ${monotonicUs()}`);

// --- report --------------------------------------------------------------------------------------------
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
const ms = (n: number) => `${n.toFixed(1).padStart(7)} ms`;
console.log(
  `bench:fanout  ${CLIENTS} clients on one topic, ${ROUNDS} rounds each (+${WARMUP_ROUNDS} warm-up), ${BROADCASTERS} broadcaster invocations in parallel; connect+subscribe took ${setupSeconds.toFixed(1)}s\n`,
);
console.log(
  `${"".padEnd(34)}${"min".padStart(10)}${"p50".padStart(10)}${"p99".padStart(10)}${"max".padStart(10)}  within ${TARGET_MS} ms`,
);
let ok = true;
for (const [name, label] of [
  ["append", "append (HTTP) -> client has event"],
  ["publish", "publish (HTTP) -> client has msg"],
  ["raw", "raw ws broadcast (baseline)"],
] as const) {
  const sorted = [...results[name]].sort((a, b) => a - b);
  const complete = sorted.length === CLIENTS * ROUNDS;
  const max = sorted.at(-1) ?? Number.NaN;
  const within = complete && max <= TARGET_MS;
  if (name !== "raw") ok &&= within;
  console.log(
    `${label.padEnd(34)}${ms(sorted[0] ?? Number.NaN)}${ms(percentile(sorted, 50))}${ms(percentile(sorted, 99))}${ms(max)}  ${within ? "yes" : "NO"}${complete ? "" : ` (${sorted.length}/${CLIENTS * ROUNDS} deliveries)`}`,
  );
}

console.log(
  "\nCPU per fan-out, ms (all rounds' mean; main = HTTP API, listener, SQS and DynamoDB stand-ins, and the raw server):",
);
const parts = ["broadcasters", "gateway", "clients", "main", "postgres"];
console.log(
  `${"".padEnd(34)}${parts.map((part) => part.padStart(13)).join("")}${"total".padStart(9)}${"per client".padStart(13)}`,
);
for (const [name, label] of [
  ["append", "append -> every client"],
  ["publish", "publish -> every client"],
  ["raw", "raw ws broadcast"],
] as const) {
  const perRound = (part: string) => (cpuSpent[name][part] ?? 0) / ROUNDS;
  const total = parts.reduce((sum, part) => sum + perRound(part), 0);
  console.log(
    `${label.padEnd(34)}${parts.map((part) => perRound(part).toFixed(1).padStart(13)).join("")}${total.toFixed(1).padStart(9)}${`${((total / CLIENTS) * 1000).toFixed(0)} µs`.padStart(13)}`,
  );
}

console.log("\nDynamoDB requests per event (one event per fan-out batch, what DynamoDB bills):");
for (const { subscribers, perEvent, byOperation } of cost) {
  const detail = Object.entries(byOperation)
    .map(([operation, n]) => `${operation} ${(n / COST_EVENTS).toFixed(1)}`)
    .join(", ");
  console.log(
    `  ${String(subscribers).padStart(6)} subscribers: ${perEvent.toFixed(1).padStart(6)}  (${detail || "none"})`,
  );
}

// The gateway goes first and at once: 1,000 $disconnect invocations would only slow the teardown.
await gateway.stop();
for (const group of Object.values(clientGroups)) {
  await group.ask({ cmd: "close" });
  await group.stop();
}
raw.close();
await listener.stop();
await Promise.all(broadcasters.map((b) => b.ask({ cmd: "stop" })));
await Promise.all(broadcasters.map((b) => b.stop()));
await new Promise((resolve) => http.close(resolve));
await listenerSql.end({ timeout: 5 });
await sql.end({ timeout: 5 });
const { getRuntime } = await import("../functions/shared/runtime.ts");
await (await getRuntime()).sql.end({ timeout: 5 });
sqs.destroy();
dynamo.destroy();
await dynamoServer.stop();
await sqsServer.stop();
await pg.stop();
process.exit(ok ? 0 : 1);
