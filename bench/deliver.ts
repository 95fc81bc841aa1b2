/**
 * `npm run bench:deliver`: persistent-subscription delivery through the real listener, Postgres and the SQS
 * stand-in (in its own process).
 *   1. Latency at light load: append one event, then another every 20 ms; time until a consumer
 *      long-polling the queue has it. Targets p50 <= 15 ms, p99 <= 50 ms.
 *   2. Forwarding throughput (events/s into SQS) of a backlog into 1 and into 10 subscriptions, each beside
 *      the raw SendMessageBatch rate (batches of 10, same bodies and attributes, same parallelism) of the
 *      same endpoint, measured right before and after. Target: >= 0.7 of raw.
 * Bounded: gives up after BENCH_TIMEOUT_S (default 240 s).
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
import { listenerSqlOptions, startListener } from "../lib/listener/startListener.ts";
import { createSubscription } from "../lib/subscriptions/createSubscription.ts";
import { parseSubscriptionDefinition } from "../lib/subscriptions/definition.ts";
import { replaySubscription } from "../lib/subscriptions/replaySubscription.ts";
import { benchPostgres, fmt } from "./support.ts";

const TIMEOUT_S = Number(process.env.BENCH_TIMEOUT_S ?? 240);
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 300);
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SEND_CONCURRENCY = 16;
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
const prefix = `bench${Date.now().toString(36)}-`;
const data = { orderId: "o-1", total: 42.5, lines: [{ sku: "A-1", qty: 2 }], note: "benchmark payload" };

const subscribe = async (name: string, body: unknown = {}) =>
  (
    await createSubscription(sql, sqs, {
      name,
      definition: parseSubscriptionDefinition(body),
      queuePrefix: prefix,
    })
  ).subscription;

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

console.log(`bench:deliver  (Postgres + listener in this process, SQS stand-in at ${endpoint})\n`);

// --- 1. latency at light load -------------------------------------------------------------------------------
{
  const subscription = await subscribe("latency", { startFrom: "current" });
  const listener = await startListener({ sql: listenerSql, sqs, source: "urn:bench", claimIntervalMs: 100 });
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
  console.log(
    `append -> received from SQS, ${latencies.length}/${LATENCY_SAMPLES} events at ~50/s:  ` +
      `p50 ${p50.toFixed(1)} ms (target <= 15: ${p50 <= 15 ? "met" : "MISSED"})   ` +
      `p99 ${p99.toFixed(1)} ms (target <= 50: ${p99 <= 50 ? "met" : "MISSED"})   max ${sorted.at(-1)!.toFixed(1)} ms\n`,
  );
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
const head = (await sql<[{ head: number }]>`select max(position)::int8 as head from eventbus.events`)[0]!
  .head;
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

async function rawRate(queueUrls: string[], messagesPerQueue: number): Promise<number> {
  const limit = pLimit(SEND_CONCURRENCY);
  const start = performance.now();
  const batches: Promise<unknown>[] = [];
  for (const queueUrl of queueUrls) {
    for (let sent = 0; sent < messagesPerQueue; sent += 10) {
      const batch = Array.from({ length: 10 }, (_, j) => entries[(sent + j) % entries.length]!);
      batches.push(
        limit(() => sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: batch }))),
      );
    }
  }
  await Promise.all(batches);
  return (queueUrls.length * messagesPerQueue) / ((performance.now() - start) / 1000);
}

const purge = (queueUrls: string[]) =>
  Promise.all(queueUrls.map((QueueUrl) => sqs.send(new PurgeQueueCommand({ QueueUrl }))));

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
  const listener = await startListener({
    sql: listenerSql,
    sqs,
    source: "urn:bench",
    claimIntervalMs: 100,
    sendConcurrency: SEND_CONCURRENCY,
    maxQueueDepth: 0,
  });
  while (listener.owned().length < count) await new Promise((r) => setTimeout(r, 20));
  let oursSeconds = 0;
  let rawSeconds = 0;
  for (let round = 0; round < ROUNDS; round++) {
    rawSeconds += (count * head) / (await rawRate(rawQueues, head));
    await purge(rawQueues);
    const start = performance.now();
    for (const name of names) await replaySubscription(sql, name, "origin");
    for (;;) {
      const [row] = await sql<[{ behind: number }]>`
        select count(*)::int8 as behind from eventbus.checkpoints
        where name = any(${names}::text[]) and position < ${head}`;
      if (row!.behind === 0) break;
      await new Promise((r) => setTimeout(r, 5));
    }
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

for (const count of [1, 10]) {
  const { ours, raw } = await forwardingRate(count);
  const ratio = ours / raw;
  console.log(
    `forwarding ${fmt(head)} events x${ROUNDS} into ${String(count).padStart(2)} subscription(s)   ` +
      `${fmt(ours).padStart(7)} msg/s   raw SendMessageBatch ${fmt(raw).padStart(7)} msg/s   ` +
      `ratio ${ratio.toFixed(2)} (target >= 0.7: ${ratio >= 0.7 ? "met" : "MISSED"})`,
  );
}

await listenerSql.end({ timeout: 5 });
await sql.end({ timeout: 5 });
sqs.destroy();
stand.kill("SIGTERM");
await pg.stop();
process.exit(0);
