/**
 * `npm run bench:deliver [-- --json]`: persistent-subscription delivery through the real listener, Postgres
 * and the SQS stand-in (in its own process, as real SQS is another machine).
 *   1. Latency at light load: append one event, then another every 20 ms; time until a consumer
 *      long-polling the queue has it. Targets p50 <= 15 ms, p99 <= 50 ms.
 *   2. Forwarding throughput (events/s into SQS) of a backlog (BENCH_BACKLOG, default 10,000) into 1 and
 *      into 10 subscriptions, replayed BENCH_ROUNDS times, each round beside a round of raw SendMessageBatch.
 *   3. Catch-up replay: the store is filled to BENCH_REPLAY_EVENTS (default 1,000,000) events with
 *      `appendToStream` in batches of 1,000, then a fresh subscription (`startFrom: "origin"`) is created
 *      while the listener runs; the clock stops when its checkpoint reaches the head (every event accepted
 *      by SQS). Beside it, raw SendMessageBatch into a queue of the same kind: BENCH_REPLAY_RAW messages
 *      (default the smaller of the replay count and 200,000), half right before and half right after.
 * "Raw SendMessageBatch" always means batches of 10 with the very bodies and attributes the listener sends
 * (CloudEvents read back from the store), at the listener's send concurrency (16 in flight), from the same
 * client to the same endpoint. Target for 2 and 3: >= 0.7 of raw.
 *
 * Queues are purged every second while messages pile up (nobody consumes them), for ours and raw alike, so
 * that the in-memory stand-in does not grow by a gigabyte; the listener's back-pressure is off
 * (`maxQueueDepth: 0`) for the same reason.
 *
 * The replay also reports the CPU each process spent per 1,000 messages, ours and raw: on a shared machine
 * the rates swing with the neighbours' load, CPU per message much less, so it shows where a gap lies.
 *
 * With `--json`, the last line is `{"cases":[{"name","eventsPerSecond","baselinePerSecond","ratio"}],
 * "latency":{"p50Ms","p99Ms","maxMs","received","samples"},"replayCpuMsPerThousandMessages":{"replay",
 * "raw"}}`.
 * Bounded: gives up after BENCH_TIMEOUT_S (default 300 s plus 2 s per 1,000 replay events).
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import {
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import pLimit from "p-limit";
import { createSql } from "../lib/db/client.ts";
import { migrate } from "../lib/db/migrate.ts";
import { appendToStream } from "../lib/events/appendToStream.ts";
import { toCloudEvent } from "../lib/events/cloudEvent.ts";
import { readAll } from "../lib/events/readAll.ts";
import {
  type Listener,
  listenerSqlOptions,
  listenerSqsOptions,
  startListener,
} from "../lib/listener/startListener.ts";
import { createSubscription } from "../lib/subscriptions/createSubscription.ts";
import { parseSubscriptionDefinition } from "../lib/subscriptions/definition.ts";
import { replaySubscription } from "../lib/subscriptions/replaySubscription.ts";
import { addCpu, cpuSnapshot, cpuSpent } from "./processCpu.ts";
import { type BenchCase, benchPostgres, fmt, printJsonSummary, report } from "./support.ts";

const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 300);
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const REPLAY_EVENTS = Number(process.env.BENCH_REPLAY_EVENTS ?? 1_000_000);
const REPLAY_RAW = Number(process.env.BENCH_REPLAY_RAW ?? Math.min(REPLAY_EVENTS, 200_000));
const TIMEOUT_S = Number(process.env.BENCH_TIMEOUT_S ?? 300 + REPLAY_EVENTS / 500);
/** The listener's default; raw sends keep as many batches in flight. */
const SEND_CONCURRENCY = 16;
/** `maxEventsPerAppend`: the largest batch one append takes. */
const SEED_BATCH = 1000;
setTimeout(() => {
  console.error(`bench:deliver did not finish within ${TIMEOUT_S}s`);
  process.exit(1);
}, TIMEOUT_S * 1000).unref();
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

// --- Postgres, the SQS stand-in, clients ------------------------------------------------------------------
const pg = await benchPostgres();
const sql = createSql(pg.url, { max: 10 });
await migrate(sql);
const stand = spawn(process.execPath, ["--import", "tsx", "bench/sqsStandIn.ts"], {
  stdio: ["ignore", "pipe", "inherit"],
});
const endpoint = await new Promise<string>((resolve) => {
  createInterface({ input: stand.stdout! }).once("line", resolve);
});
const sqs = new SQSClient({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
});
const listenerSql = createSql(pg.url, { max: 10, ...listenerSqlOptions });
// The listener's own client, configured as it is in production; raw sends use the SDK's defaults.
const listenerSqs = new SQSClient({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
  ...listenerSqsOptions,
});
const prefix = `bench${Date.now().toString(36)}-`;
const data = { orderId: "o-1", total: 42.5, lines: [{ sku: "A-1", qty: 2 }], note: "benchmark payload" };
const cases: BenchCase[] = [];

const subscribe = async (name: string, body: unknown = {}) =>
  (
    await createSubscription(sql, sqs, {
      name,
      definition: parseSubscriptionDefinition(body),
      queuePrefix: prefix,
    })
  ).subscription;

const startBenchListener = async (count: number): Promise<Listener> => {
  const listener = await startListener({
    sql: listenerSql,
    sqs: listenerSqs,
    source: "urn:bench",
    claimIntervalMs: 100,
    sendConcurrency: SEND_CONCURRENCY,
    maxQueueDepth: 0,
  });
  while (listener.owned().length < count) await new Promise((r) => setTimeout(r, 20));
  return listener;
};

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

const storeHead = async () =>
  (await sql<[{ head: number }]>`select coalesce(max(position), 0)::int8 as head from eventbus.events`)[0]!
    .head;

/** Whether every named subscription's checkpoint has reached `head` (all of it accepted by SQS). */
const caughtUp = async (names: string[], head: number) => {
  const [row] = await sql<[{ behind: number }]>`
    select count(*)::int8 as behind from eventbus.checkpoints
    where name = any(${names}::text[]) and position < ${head}`;
  return row!.behind === 0;
};

const purge = (queueUrls: string[]) =>
  Promise.all(queueUrls.map((QueueUrl) => sqs.send(new PurgeQueueCommand({ QueueUrl }))));

/** Runs `work` while purging `queueUrls` every second, so that unconsumed messages do not pile up. */
async function whilePurging<T>(queueUrls: string[], work: () => Promise<T>): Promise<T> {
  let purging = Promise.resolve();
  const timer = setInterval(() => {
    purging = purging.then(() => purge(queueUrls).then(() => undefined));
  }, 1_000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    await purging;
    await purge(queueUrls);
  }
}

console.log(`bench:deliver  (Postgres + listener in this process, SQS stand-in at ${endpoint})\n`);

// --- 1. latency at light load -------------------------------------------------------------------------------
let latency: Record<string, number>;
/** CPU ms per 1,000 messages of the replay and of the raw sends, by process (see processCpu.ts). */
let replayCpuMs: Record<"replay" | "raw", Record<string, number>>;
/** Processes whose CPU is reported: this one (bench driver and listener), the stand-in, Postgres. */
const CPU_GROUPS = { self: "bench+listener", node: "SQS stand-in", postgres: "postgres" };
{
  const subscription = await subscribe("latency", { startFrom: "current" });
  const listener = await startListener({
    sql: listenerSql,
    sqs: listenerSqs,
    source: "urn:bench",
    claimIntervalMs: 100,
  });
  while (!listener.owned().includes("latency")) await new Promise((r) => setTimeout(r, 20));
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  let receiving = true;
  const consumers = Array.from({ length: 2 }, async () => {
    while (receiving) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: subscription.queueUrl,
          WaitTimeSeconds: 1,
          MaxNumberOfMessages: 10,
        }),
      );
      const now = performance.now();
      for (const m of Messages) {
        const seq = (JSON.parse(m.Body!) as { data: { seq: number } }).data.seq;
        latencies.push(now - sentAt.get(seq)!);
      }
      if (Messages.length > 0) {
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: subscription.queueUrl,
            Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
          }),
        );
      }
    }
  });
  for (let seq = 0; seq < LATENCY_SAMPLES; seq++) {
    sentAt.set(seq, performance.now());
    await appendToStream(sql, `latency-${seq % 10}`, [{ type: "Timed", data: { seq } }]);
    await new Promise((r) => setTimeout(r, 20));
  }
  const until = Date.now() + 5_000;
  while (latencies.length < LATENCY_SAMPLES && Date.now() < until)
    await new Promise((r) => setTimeout(r, 20));
  receiving = false;
  await Promise.all(consumers);
  await listener.stop();
  const sorted = [...latencies].sort((a, b) => a - b);
  const p50 = percentile(sorted, 50);
  const p99 = percentile(sorted, 99);
  latency = {
    p50Ms: Number(p50.toFixed(1)),
    p99Ms: Number(p99.toFixed(1)),
    maxMs: Number(sorted.at(-1)!.toFixed(1)),
    received: latencies.length,
    samples: LATENCY_SAMPLES,
  };
  console.log(
    `append -> received from SQS, ${latencies.length}/${LATENCY_SAMPLES} events at ~50/s:  ` +
      `p50 ${p50.toFixed(1)} ms (target <= 15: ${p50 <= 15 ? "met" : "MISSED"})   ` +
      `p99 ${p99.toFixed(1)} ms (target <= 50: ${p99 <= 50 ? "met" : "MISSED"})   max ${sorted.at(-1)!.toFixed(1)} ms\n`,
  );
  // Gone with its queue: a subscription left behind would have every later listener forward the backlog and
  // the replay into a queue that no longer exists, beside the subscriptions measured.
  await sql`delete from eventbus.subscriptions where name = 'latency'`;
  await sqs.send(new DeleteQueueCommand({ QueueUrl: subscription.queueUrl }));
}

// --- 2. forwarding throughput beside raw SendMessageBatch ----------------------------------------------------
// The backlog, appended while no listener runs.
for (let i = 0; i < BACKLOG / 100; i++) {
  await appendToStream(
    sql,
    `order-${i % 200}`,
    Array.from({ length: 100 }, () => ({ type: "OrderPlaced", data })),
  );
}
const head = await storeHead();
// Raw sends carry the very bodies and attributes the listener sends.
const sample = (await readAll(sql, { limit: 1000, type: "OrderPlaced" })).events.map((e) =>
  toCloudEvent(e, "urn:bench"),
);
const entries = sample.map((e, i) => ({
  Id: String(i % 10),
  MessageBody: JSON.stringify(e),
  MessageAttributes: {
    type: { DataType: "String", StringValue: e.type },
    streamid: { DataType: "String", StringValue: e.streamid },
    position: { DataType: "Number", StringValue: String(e.position) },
  },
}));

/** Raw SendMessageBatch of `messagesPerQueue` messages into each queue; resolves with messages/s. */
async function rawRate(queueUrls: string[], messagesPerQueue: number): Promise<number> {
  const limit = pLimit(SEND_CONCURRENCY);
  const start = performance.now();
  const batches: Promise<unknown>[] = [];
  for (const queueUrl of queueUrls) {
    for (let sent = 0; sent < messagesPerQueue; sent += 10) {
      const batch = Array.from(
        { length: Math.min(10, messagesPerQueue - sent) },
        (_, j) => entries[(sent + j) % entries.length]!,
      );
      batches.push(
        limit(() => sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: batch }))),
      );
    }
  }
  await Promise.all(batches);
  return (queueUrls.length * messagesPerQueue) / ((performance.now() - start) / 1000);
}

/**
 * Alternates rounds of raw sends and of forwarding (a replay from the origin makes the listener forward
 * the whole backlog again), so a change in machine load during the run hits both alike.
 */
async function forwardingRate(count: number): Promise<{ ours: number; raw: number }> {
  const subscriptions = [];
  for (let i = 0; i < count; i++)
    subscriptions.push(await subscribe(`fwd${count}-${i}`, { startFrom: "current" }));
  const names = subscriptions.map((s) => s.name);
  const ourQueues = subscriptions.map((s) => s.queueUrl);
  // Raw sends go to queues of the same kind, outside the registry so that the listener leaves them alone.
  const rawQueues = [];
  for (let i = 0; i < count; i++) rawQueues.push((await subscribe(`raw${count}-${i}`)).queueUrl);
  await sql`delete from eventbus.subscriptions where name like ${`raw${count}-%`}`;
  const listener = await startBenchListener(count);
  // An untimed raw round first: on a cold stand-in and client the first few thousand messages go at a
  // fraction of the warm rate, which would flatter ours (measured second) in the first round.
  await rawRate(rawQueues, Math.ceil(5000 / count));
  await purge(rawQueues);
  let oursSeconds = 0;
  let rawSeconds = 0;
  for (let round = 0; round < ROUNDS; round++) {
    rawSeconds += (count * head) / (await rawRate(rawQueues, head));
    await purge(rawQueues);
    const start = performance.now();
    for (const name of names) await replaySubscription(sql, name, "origin");
    while (!(await caughtUp(names, head))) await new Promise((r) => setTimeout(r, 5));
    oursSeconds += (performance.now() - start) / 1000;
    await purge(ourQueues);
  }
  await listener.stop();
  await sql`delete from eventbus.subscriptions where name = any(${names}::text[])`;
  await Promise.all(
    [...ourQueues, ...rawQueues].map((QueueUrl) => sqs.send(new DeleteQueueCommand({ QueueUrl }))),
  );
  const total = ROUNDS * count * head;
  return { ours: total / oursSeconds, raw: total / rawSeconds };
}

console.log(`forwarding a backlog of ${fmt(head)} events, ${ROUNDS} round(s):`);
for (const count of [1, 10]) {
  const { ours, raw } = await forwardingRate(count);
  cases.push(report(`forwarding into ${count} subscription${count === 1 ? "" : "s"}`, ours, raw, 0.7));
}

// --- 3. catch-up replay of a large store into a fresh subscription -------------------------------------------
{
  const [{ stored }] = await sql<[{ stored: number }]>`select count(*)::int8 as stored from eventbus.events`;
  const toSeed = Math.max(0, REPLAY_EVENTS - stored);
  const seedStart = performance.now();
  const seedLimit = pLimit(4);
  const seeding: Promise<unknown>[] = [];
  for (let seeded = 0, batch = 0; seeded < toSeed; seeded += SEED_BATCH, batch++) {
    const n = Math.min(SEED_BATCH, toSeed - seeded);
    seeding.push(
      seedLimit(() =>
        appendToStream(
          sql,
          `replay-${batch % 1000}`,
          Array.from({ length: n }, () => ({ type: "OrderPlaced", data })),
        ),
      ),
    );
  }
  await Promise.all(seeding);
  const seedSeconds = (performance.now() - seedStart) / 1000;
  const replayHead = await storeHead();
  const [{ total }] = await sql<[{ total: number }]>`select count(*)::int8 as total from eventbus.events`;
  console.log(
    `\nstored ${fmt(toSeed)} more events with appendToStream in batches of ${SEED_BATCH} (4 writers) in ` +
      `${seedSeconds.toFixed(1)} s (${fmt(toSeed / seedSeconds)} ev/s); ${fmt(total)} in the store`,
  );

  const rawQueue = (await subscribe("replay-raw")).queueUrl;
  await sql`delete from eventbus.subscriptions where name = 'replay-raw'`;
  const half = Math.ceil(REPLAY_RAW / 2);
  /** Raw sends of `count` messages: seconds taken and CPU spent. */
  const rawPhase = async (count: number) => {
    const cpu = cpuSnapshot();
    const seconds = count / (await whilePurging([rawQueue], () => rawRate([rawQueue], count)));
    return { seconds, cpu: cpuSpent(cpu, cpuSnapshot()) };
  };
  const rawBefore = await rawPhase(half);

  const listener = await startBenchListener(0);
  const cpuBefore = cpuSnapshot();
  const start = performance.now();
  const subscription = await subscribe("replay", { startFrom: "origin" });
  await whilePurging([subscription.queueUrl], async () => {
    // Coarse polling: it runs on the listener's machine and Postgres, and a long replay needs no finer clock.
    while (!(await caughtUp(["replay"], replayHead))) await new Promise((r) => setTimeout(r, 100));
  });
  const replaySeconds = (performance.now() - start) / 1000;
  const replayCpu = cpuSpent(cpuBefore, cpuSnapshot());
  await listener.stop();

  const rawAfter = await rawPhase(REPLAY_RAW - half);
  const raw = REPLAY_RAW / (rawBefore.seconds + rawAfter.seconds);
  cases.push(report("catch-up replay into a fresh subscription", total / replaySeconds, raw, 0.7));
  // CPU per message does not swing with the neighbours' load the way rates do: it shows where a gap lies.
  const perThousand = (cpu: Record<string, number>, messages: number) =>
    Object.fromEntries(
      Object.entries(CPU_GROUPS).map(([group, label]) => [
        label,
        Math.round((1000 * (cpu[group] ?? 0)) / messages),
      ]),
    );
  replayCpuMs = {
    replay: perThousand(replayCpu, total),
    raw: perThousand(addCpu(rawBefore.cpu, rawAfter.cpu), REPLAY_RAW),
  };
  const line = (figures: Record<string, number>) =>
    Object.entries(figures)
      .map(([label, ms]) => `${label} ${ms}`)
      .join(", ");
  console.log(
    `  CPU ms per 1,000 messages: replay ${line(replayCpuMs.replay)};  raw ${line(replayCpuMs.raw)}`,
  );
  await Promise.all(
    [subscription.queueUrl, rawQueue].map((QueueUrl) => sqs.send(new DeleteQueueCommand({ QueueUrl }))),
  );
}
console.log(
  `\nBaseline: raw SendMessageBatch (10 per batch, ${SEND_CONCURRENCY} in flight, the listener's bodies and ` +
    "attributes) to the same SQS stand-in, in rounds beside ours.",
);

await listenerSql.end({ timeout: 5 });
await sql.end({ timeout: 5 });
sqs.destroy();
listenerSqs.destroy();
stand.kill("SIGTERM");
await pg.stop();
printJsonSummary(cases, { latency, replayCpuMsPerThousandMessages: replayCpuMs });
process.exit(0);
