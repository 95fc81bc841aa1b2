import {
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
} from "@aws-sdk/client-sqs";
import pLimit from "p-limit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSql, type Sql } from "../../lib/db/client.ts";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { probeHead } from "../../lib/events/readSafeHead.ts";
import { startForwarder } from "../../lib/listener/forwarder.ts";
import { type Listener, listenerSqlOptions, startListener } from "../../lib/listener/startListener.ts";
import { collectBusMetrics } from "../../lib/metrics/busMetrics.ts";
import { MetricsRegistry, metrics } from "../../lib/metrics/registry.ts";
import { createSubscription } from "../../lib/subscriptions/createSubscription.ts";
import { parseSubscriptionDefinition } from "../../lib/subscriptions/definition.ts";
import { OWNER_LOCK_NAMESPACE } from "../../lib/subscriptions/ownership.ts";
import { readSubscriptionStatus } from "../../lib/subscriptions/readSubscriptionStatus.ts";
import { redriveSubscription } from "../../lib/subscriptions/redriveSubscription.ts";
import { type QueueDepth, readQueueDepth } from "../../lib/subscriptions/subscriptionQueues.ts";
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
    // A send counts until a depth reading shows it, or this long: on a loaded CI machine the drain below
    // can take messages before the listener's next reading, and at the default (60 s) the subscription
    // would then stay paused past the test's deadline. Long lags have a test of their own further down.
    depthLagMs: 3_000,
  });
});
afterAll(async () => {
  await listener.stop();
  await listenerSql.end({ timeout: 5 });
  await db.close();
  sqs.destroy();
});

/** `createSubscription`, as `PUT /subscriptions/{name}` does. */
const put = (name: string, body: unknown) =>
  createSubscription(db.sql, sqs, {
    name,
    definition: parseSubscriptionDefinition(body),
    queuePrefix: prefix,
  });
const subscribe = async (name: string, body: unknown) => (await put(name, body)).subscription;

/** One short poll, as a consumer that polls now and then does: the `data.i` of what it took and deleted. */
async function takeVisible(queueUrl: string): Promise<number[]> {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
  );
  if (Messages.length > 0) {
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
  }
  return Messages.map((m) => (JSON.parse(m.Body!) as { data: { i: number } }).data.i);
}

/**
 * A consumer that drains the queue a batch at a time, each time once the subscription is paused and the
 * listener has had a second to read the depth again (or once nothing is left to forward): the `data.i`
 * of what it took.
 */
async function drainWhenPaused(
  queueUrl: string,
  status: () => Promise<{ state: string; lag: number }>,
  count: number,
): Promise<Set<number>> {
  const seen = new Set<number>();
  const deadline = Date.now() + 45_000;
  while (seen.size < count && Date.now() < deadline) {
    const now = await status();
    if (now.state === "paused" || now.lag === 0) {
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      for (const i of await takeVisible(queueUrl)) seen.add(i);
    } else {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return seen;
}

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
    // Flowing, with a parked event waiting for a redrive.
    expect(status).toMatchObject({
      state: "parked",
      lag: 0,
      parked: 1,
      lastParkedReason: expect.stringMatching(/shorter than 1024/),
    });
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
    expect((await readSubscriptionStatus(db.sql, sqs, [subscription]))[0]).toMatchObject({
      parked: 0,
      state: "active",
    });
    expect(metrics.read("eventbus_redriven_events_total", { subscription: "rejects" })).toBe(1);
  });

  it("shows a subscription whose queue was deleted as failing, with SQS's reason, until the queue is back", async () => {
    const subscription = await subscribe("gone-queue", { filter: { type: ["Gone"] } });
    await expect.poll(() => listener.owned(), { timeout: 5_000 }).toContain("gone-queue");
    const statusOf = async () => (await readSubscriptionStatus(db.sql, sqs, [subscription]))[0]!;
    expect(await statusOf()).toMatchObject({ state: "active", failingSince: null, lastError: null });

    // Deleted outside the bus: every send fails, and is retried, for as long as the queue is missing.
    await sqs.send(new DeleteQueueCommand({ QueueUrl: subscription.queueUrl }));
    await appendToStream(db.sql, "gone-1", [{ type: "Gone", data: { i: 1 } }]);
    await expect.poll(async () => (await statusOf()).state, { timeout: 10_000 }).toBe("failing");
    const failing = await statusOf();
    expect(failing.lastError).toMatch(/^(AWS\.SimpleQueueService\.NonExistentQueue|QueueDoesNotExist): \S/);
    expect(Date.parse(failing.failingSince!)).toBeLessThanOrEqual(Date.parse(failing.lastErrorAt!));
    expect(failing.lag).toBeGreaterThan(0);
    const registry = new MetricsRegistry();
    await collectBusMetrics(registry, { sql: db.sql, sqs });
    expect(registry.read("eventbus_subscription_failing", { subscription: "gone-queue" })).toBe(1);

    // PUT again with the same definition: the missing queue is re-created under its name (so its URL), the
    // event waiting all along is delivered, and the subscription is no longer failing; the reason stays
    // for whoever looks later.
    expect((await put("gone-queue", { filter: { type: ["Gone"] } })).created).toBe(false);
    const received = await receiveEvents(sqs, subscription.queueUrl, 1, { timeoutMs: 15_000 });
    expect(received.map((r) => r.event.data)).toEqual([{ i: 1 }]);
    await expect.poll(async () => (await statusOf()).state, { timeout: 5_000 }).toBe("active");
    expect(await statusOf()).toMatchObject({ failingSince: null, lastError: failing.lastError, lag: 0 });
    await collectBusMetrics(registry, { sql: db.sql, sqs });
    expect(registry.read("eventbus_subscription_failing", { subscription: "gone-queue" })).toBe(0);
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

    // A consumer that takes what is queued only once the listener has paused and read the depth again.
    // (One that long-polls takes each message the moment it lands, before any depth reading can show it:
    // then the listener, which must assume readings lag, counts those sends for up to `depthLagMs` and
    // forwards at most about the maximum per that window.)
    const seen = await drainWhenPaused(subscription.queueUrl, status, 40);
    expect(seen.size).toBe(40);
    await expect.poll(async () => (await status()).state, { timeout: 10_000 }).toBe("active");
    expect(await status()).toMatchObject({ lag: 0, lagSeconds: 0, pausedAt: null });
  }, 60_000);
});

describe("back-pressure with a stale queue depth", () => {
  it("keeps within one message of the maximum while readings lag, and resumes once they catch up", async () => {
    // A database of its own, with no listener: the forwarder under test is the subscription's only owner.
    const own = await createTestDatabase();
    const lock = await own.sql.reserve();
    try {
      const { subscription } = await createSubscription(own.sql, sqs, {
        name: "stale-depth",
        definition: parseSubscriptionDefinition({}),
        queuePrefix: prefix,
      });
      const [{ pid, locked }] = await lock<[{ pid: number; locked: boolean }]>`
        select pg_backend_pid() as pid, pg_try_advisory_lock(${OWNER_LOCK_NAMESPACE}, ${subscription.id}) as locked`;
      expect(locked).toBe(true);
      // Real SQS's ApproximateNumberOfMessages can lag for up to a minute: here the readings stay at what
      // the queue held before anything was sent until `fresh` is set.
      let fresh = false;
      const stale: QueueDepth = { visible: 0, inFlight: 0 };
      const forwarder = startForwarder(
        {
          name: subscription.name,
          lockId: subscription.id,
          queueUrl: subscription.queueUrl,
          kind: "subscription",
          fifo: false,
          pattern: null,
        },
        {
          sql: own.sql,
          sqs,
          source: "urn:test",
          lockPid: pid,
          limit: pLimit(4),
          pageSize: 10,
          maxQueueDepth: 5,
          readDepth: async (url) => (fresh ? readQueueDepth(sqs, url) : stale),
          log: () => {},
          onGone: () => {},
        },
      );
      try {
        await appendToStream(
          own.sql,
          "stale-1",
          Array.from({ length: 40 }, (_, i) => ({ type: "Stale", data: { i } })),
        );
        // What the listener does on each wake-up: record the head, so the page can read up to it.
        await probeHead(own.sql);
        forwarder.kick();
        const status = async () => (await readSubscriptionStatus(own.sql, sqs, [subscription]))[0]!;
        await expect.poll(async () => (await status()).state, { timeout: 10_000 }).toBe("paused");
        // Readings say the queue is empty, yet it never holds more than the maximum plus one.
        for (let i = 0; i < 8; i++) {
          expect((await readQueueDepth(sqs, subscription.queueUrl))!.visible).toBeLessThanOrEqual(6);
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        // Readings catch up: the sends they now show are no longer counted on top of them, so the
        // forwarder stays paused at 6 rather than waiting out the 60 s it assumes readings may lag...
        fresh = true;
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        expect((await readQueueDepth(sqs, subscription.queueUrl))!.visible).toBe(6);
        expect((await status()).state).toBe("paused");
        // ... and a consumer taking them is seen at the next reading: delivery resumes at once.
        const seen = new Set(await takeVisible(subscription.queueUrl));
        expect(seen.size).toBe(6);
        await expect
          .poll(async () => (await readQueueDepth(sqs, subscription.queueUrl))!.visible, { timeout: 5_000 })
          .toBe(6);
        for (const i of await drainWhenPaused(subscription.queueUrl, status, 34)) seen.add(i);
        expect(seen.size).toBe(40);
        await expect.poll(async () => (await status()).state, { timeout: 10_000 }).toBe("active");
      } finally {
        await forwarder.stop();
      }
    } finally {
      lock.release();
      await own.close();
    }
  }, 60_000);
});
