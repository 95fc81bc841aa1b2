import { SetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSql, type Sql } from "../../lib/db/client.ts";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { type Listener, listenerSqlOptions, startListener } from "../../lib/listener/startListener.ts";
import { metrics } from "../../lib/metrics/registry.ts";
import { createSubscription } from "../../lib/subscriptions/createSubscription.ts";
import { parseSubscriptionDefinition } from "../../lib/subscriptions/definition.ts";
import { readSubscriptionStatus } from "../../lib/subscriptions/readSubscriptionStatus.ts";
import { redriveSubscription } from "../../lib/subscriptions/redriveSubscription.ts";
import { readQueueDepth } from "../../lib/subscriptions/subscriptionQueues.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createSqsClient, receiveEvents, uniquePrefix } from "./support.ts";

const sqs = createSqsClient();
const prefix = uniquePrefix("resil");
let db: TestDatabase;
let listenerSql: Sql;
let listener: Listener;

beforeAll(async () => {
  db = await createTestDatabase();
  listenerSql = createSql(db.url, listenerSqlOptions);
  // The safety-net poll is out of reach of these tests: only NOTIFY and re-LISTEN catch-ups deliver.
  listener = await startListener({
    sql: listenerSql,
    sqs,
    source: "urn:test",
    claimIntervalMs: 200,
    pollIntervalMs: 60_000,
    pageSize: 5,
    maxQueueDepth: 5,
  });
});
afterAll(async () => {
  await listener.stop();
  await listenerSql.end({ timeout: 5 });
  await db.close();
  sqs.destroy();
});

const subscribe = async (name: string, body: unknown) =>
  (
    await createSubscription(db.sql, sqs, {
      name,
      definition: parseSubscriptionDefinition(body),
      queuePrefix: prefix,
    })
  ).subscription;

const checkpointOf = async (name: string) =>
  (await db.sql<[{ position: number }]>`select position from eventbus.checkpoints where name = ${name}`)[0]!
    .position;

const listenPids = async () =>
  (
    await db.sql<{ pid: number }[]>`
      select pid from pg_stat_activity where datname = current_database() and query ilike 'listen %'`
  ).map((r) => r.pid);

describe("listener resilience", () => {
  it("re-listens after its LISTEN connection is terminated and catches up on what it missed", async () => {
    const subscription = await subscribe("reconnect", { filter: { type: ["Reconnect"] } });
    await appendToStream(db.sql, "r-1", [{ type: "Reconnect", data: { i: 0 } }]);
    expect(await receiveEvents(sqs, subscription.queueUrl, 1)).toHaveLength(1);

    const [pid] = await listenPids();
    expect(pid).toBeDefined();
    await db.sql`select pg_terminate_backend(${pid!})`;
    // Appended while the LISTEN connection is down: these notifications are lost.
    await appendToStream(db.sql, "r-1", [
      { type: "Reconnect", data: { i: 1 } },
      { type: "Reconnect", data: { i: 2 } },
    ]);
    const caughtUp = await receiveEvents(sqs, subscription.queueUrl, 2, { timeoutMs: 10_000 });
    expect(caughtUp.map((r) => r.event.data)).toEqual([{ i: 1 }, { i: 2 }]);
    await expect.poll(listenPids, { timeout: 10_000 }).toEqual([expect.any(Number)]);
    expect((await listenPids())[0]).not.toBe(pid);

    // And it is listening again: a new append arrives promptly.
    await appendToStream(db.sql, "r-1", [{ type: "Reconnect", data: { i: 3 } }]);
    const live = await receiveEvents(sqs, subscription.queueUrl, 1, { timeoutMs: 5_000 });
    expect(live.map((r) => r.event.data)).toEqual([{ i: 3 }]);
  });

  it("gives up and re-claims its subscriptions when its lock connection is terminated", async () => {
    const subscription = await subscribe("relock", { filter: { type: ["Relock"] } });
    await expect.poll(() => listener.owned(), { timeout: 10_000 }).toContain("relock");
    const lockPid = async () =>
      (
        await db.sql<{ pid: number }[]>`
          select pid from pg_stat_activity
          where datname = current_database() and application_name like 'eventbus-listener:%'`
      ).map((r) => r.pid);
    const [pid] = await lockPid();
    expect(pid).toBeDefined();
    await db.sql`select pg_terminate_backend(${pid!})`;
    // A new lock session replaces the terminated one.
    await expect
      .poll(
        async () => {
          const pids = await lockPid();
          return pids.length === 1 && pids[0] !== pid;
        },
        { timeout: 10_000 },
      )
      .toBe(true);
    await expect.poll(() => listener.owned(), { timeout: 5_000 }).toContain("relock");

    await appendToStream(db.sql, "relock-1", [{ type: "Relock", data: { i: 1 } }]);
    const received = await receiveEvents(sqs, subscription.queueUrl, 1, { timeoutMs: 5_000 });
    expect(received.map((r) => r.event.data)).toEqual([{ i: 1 }]);
  });

  it("parks an entry SQS refuses for good, moves on, and redrives it once the queue takes it", async () => {
    const subscription = await subscribe("rejects", { filter: { type: ["Sized"] } });
    // Caught up with what came before (none of it matches), so the checkpoint sits at the head.
    const [{ head }] = await db.sql<
      [{ head: number }]
    >`select max(position)::int8 as head from eventbus.events`;
    await expect.poll(() => checkpointOf("rejects"), { timeout: 10_000 }).toBe(head);
    // A real SQS refusal: the queue's MaximumMessageSize is lowered so one entry of the batch is too big.
    await sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: subscription.queueUrl,
        Attributes: { MaximumMessageSize: "1024" },
      }),
    );
    const appended = await appendToStream(db.sql, "sized-1", [
      { type: "Sized", data: { n: 1 } },
      { type: "Sized", data: { n: 2, blob: "x".repeat(2000) } },
      { type: "Sized", data: { n: 3 } },
    ]);
    const accepted = await receiveEvents(sqs, subscription.queueUrl, 2, {
      timeoutMs: 5_000,
      settleMs: 1_000,
    });
    expect(accepted.map((r) => (r.event.data as { n: number }).n).sort()).toEqual([1, 3]);
    // Refused for good: parked with SQS's reason, and the subscription moved on past it.
    await expect
      .poll(() => checkpointOf("rejects"), { timeout: 5_000 })
      .toBeGreaterThanOrEqual(appended.events[2]!.position);
    const [status] = await readSubscriptionStatus(db.sql, sqs, [subscription]);
    expect(status).toMatchObject({ parked: 1, lastParkedReason: expect.stringMatching(/shorter than 1024/) });
    expect(metrics.read("eventbus_parked_events_total", { subscription: "rejects" })).toBe(1);

    // Once the queue takes it, a redrive delivers it and it is no longer parked.
    await sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: subscription.queueUrl,
        Attributes: { MaximumMessageSize: "1048576" },
      }),
    );
    expect(await redriveSubscription(db.sql, sqs, "rejects", { source: "urn:test" })).toMatchObject({
      redriven: 1,
      stillParked: 0,
    });
    const redriven = await receiveEvents(sqs, subscription.queueUrl, 1, { timeoutMs: 5_000, settleMs: 500 });
    expect(redriven.map((r) => (r.event.data as { n: number }).n)).toEqual([2]);
    expect((await readSubscriptionStatus(db.sql, sqs, [subscription]))[0]).toMatchObject({ parked: 0 });
    expect(metrics.read("eventbus_redriven_events_total", { subscription: "rejects" })).toBe(1);
  });

  it("delivers characters SQS refuses as JSON escapes, so a poison event stalls nothing", async () => {
    const ordered = await subscribe("poison-fifo", { filter: { type: ["Poison"] }, ordering: "stream" });
    const plain = await subscribe("poison-std", { filter: { type: ["Poison"] } });
    await expect
      .poll(() => listener.owned(), { timeout: 10_000 })
      .toEqual(expect.arrayContaining(["poison-fifo", "poison-std"]));
    const text = "nonchar \uFFFE \uFFFF astral \u{1F600} \u{10FFFF} end";
    await appendToStream(db.sql, "poison-1", [
      { type: "Poison", data: { i: 1, text } },
      { type: "Poison", data: { i: 2 } },
    ]);
    for (const queue of [ordered.queueUrl, plain.queueUrl]) {
      const received = await receiveEvents(sqs, queue, 2, { timeoutMs: 10_000 });
      expect(received.map((r) => r.event.data)).toEqual([{ i: 1, text }, { i: 2 }]);
    }
    const statuses = await readSubscriptionStatus(db.sql, sqs, [ordered, plain]);
    for (const status of statuses) expect(status).toMatchObject({ parked: 0, lag: 0 });
  });

  it("pauses a subscription whose queue is over its max depth, and resumes as it drains", async () => {
    const subscription = await subscribe("pressure", { filter: { type: ["Pressure"] } });
    await expect.poll(() => listener.owned(), { timeout: 10_000 }).toContain("pressure");
    await appendToStream(
      db.sql,
      "p-1",
      Array.from({ length: 40 }, (_, i) => ({ type: "Pressure", data: { i } })),
    );
    // Max depth 5: a page is cut where the queue is full, so it never holds more than 5 + 1 messages, and
    // the admin API says the subscription is paused.
    const status = async () => (await readSubscriptionStatus(db.sql, sqs, [subscription]))[0]!;
    await expect.poll(async () => (await status()).state, { timeout: 10_000 }).toBe("paused");
    for (let i = 0; i < 6; i++) {
      expect((await readQueueDepth(sqs, subscription.queueUrl))!.visible).toBeLessThanOrEqual(6);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect(await status()).toMatchObject({
      state: "paused",
      pausedAt: expect.any(String),
      lag: expect.any(Number),
    });
    expect((await status()).lag).toBeGreaterThanOrEqual(34);

    const all = await receiveEvents(sqs, subscription.queueUrl, 40, { timeoutMs: 30_000 });
    expect(new Set(all.map((r) => (r.event.data as { i: number }).i)).size).toBe(40);
    await expect.poll(async () => (await status()).state, { timeout: 10_000 }).toBe("active");
    expect(await status()).toMatchObject({ lag: 0, lagSeconds: 0, pausedAt: null });
  });
});
