import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { createSubscription } from "../../lib/subscriptions/createSubscription.ts";
import { parseSubscriptionDefinition } from "../../lib/subscriptions/definition.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createSqsClient, receiveEvents, spawnListener, uniquePrefix } from "./support.ts";

const sqs = createSqsClient();
const prefix = uniquePrefix("kill");
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.close();
  sqs.destroy();
});

const checkpointOf = async (name: string) =>
  (await db.sql<[{ position: number }]>`select position from eventbus.checkpoints where name = ${name}`)[0]!
    .position;

describe("listener killed with SIGKILL mid-forward", () => {
  // Forwarding 3,000 events page by page takes a while on a loaded 2-core machine; nothing here is timed.
  it("loses nothing after a restart; duplicates come only from the unacknowledged window", {
    timeout: 120_000,
  }, async () => {
    const pageSize = 10;
    const { subscription } = await createSubscription(db.sql, sqs, {
      name: "survivor",
      definition: parseSubscriptionDefinition({}),
      queuePrefix: prefix,
    });
    const total = 3000;
    for (let i = 0; i < total / 100; i++) {
      await appendToStream(
        db.sql,
        `job-${i}`,
        Array.from({ length: 100 }, (_, j) => ({ type: "Work", data: { n: i * 100 + j } })),
      );
    }
    const env = { DATABASE_URL: db.url, EVENTBUS_LISTENER_PAGE_SIZE: String(pageSize) };

    const first = spawnListener({ ...env, EVENTBUS_LISTENER_ID: "first" });
    await first.ready;
    await expect.poll(() => checkpointOf("survivor"), { timeout: 20_000, interval: 5 }).toBeGreaterThan(0);
    await first.kill();
    const checkpointAtKill = await checkpointOf("survivor");
    expect(checkpointAtKill).toBeLessThan(total); // really killed mid-forward

    const second = spawnListener({ ...env, EVENTBUS_LISTENER_ID: "second" });
    try {
      await second.ready;
      const received = await receiveEvents(sqs, subscription.queueUrl, total, {
        timeoutMs: 60_000,
        settleMs: 500,
      });
      const counts = new Map<number, number>();
      for (const r of received) {
        const position = Number(r.event.position);
        counts.set(position, (counts.get(position) ?? 0) + 1);
      }
      // Nothing lost.
      expect(counts.size).toBe(total);
      // Duplicates only above the checkpoint at the kill, at most the two pages that were in flight.
      const duplicated = [...counts].filter(([, n]) => n > 1).map(([position]) => position);
      expect(duplicated.every((p) => p > checkpointAtKill && p <= checkpointAtKill + 2 * pageSize)).toBe(
        true,
      );
      expect(await checkpointOf("survivor")).toBe(total);
    } finally {
      await second.kill();
    }
  });
});
