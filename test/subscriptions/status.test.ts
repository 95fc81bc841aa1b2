import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { createSubscription } from "../../lib/subscriptions/createSubscription.ts";
import { parseSubscriptionDefinition } from "../../lib/subscriptions/definition.ts";
import { readSubscriptionStatus } from "../../lib/subscriptions/readSubscriptionStatus.ts";
import type { Subscription } from "../../lib/subscriptions/subscriptionRow.ts";
import { createSqsClient, uniquePrefix } from "../listener/support.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

// No listener runs here: every checkpoint stays where these tests put it.
const sqs = createSqsClient();
const prefix = uniquePrefix("status");
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.close();
  sqs.destroy();
});

const subscribe = async (name: string) =>
  (
    await createSubscription(db.sql, sqs, {
      name,
      definition: parseSubscriptionDefinition({ startFrom: "current" }),
      queuePrefix: prefix,
    })
  ).subscription;

const status = async (subscription: Subscription) =>
  (await readSubscriptionStatus(db.sql, sqs, [subscription]))[0]!;

const lastIssued = async () =>
  (
    await db.sql<[{ issued: number }]>`
      select case when is_called then last_value else last_value - 1 end as issued
      from eventbus.event_position`
  )[0].issued;

describe("subscription status", () => {
  it("is behind, with no owner, when its oldest unforwarded event is older than 5 s and no listener runs", async () => {
    const subscription = await subscribe("unowned");
    const appended = await appendToStream(db.sql, "behind-1", [{ type: "A" }, { type: "B" }]);
    // Fresh events: lagging, but not yet behind.
    expect(await status(subscription)).toMatchObject({ state: "active", lag: 2, owner: null, ahead: 0 });
    expect((await status(subscription)).lagSeconds).toBeLessThan(5);
    // The same events as if appended a minute ago.
    await db.sql`
      update eventbus.events set created_at = now() - interval '1 minute'
      where stream_id = 'behind-1'`;
    const late = await status(subscription);
    expect(late).toMatchObject({ state: "behind", lag: 2, owner: null, pausedAt: null });
    expect(late.lagSeconds).toBeGreaterThanOrEqual(59);
    expect(late.checkpoint).toBe(appended.events[0]!.position - 1);
  });

  it("shows a checkpoint past the last position handed out as events it will skip, not as lag 0 alone", async () => {
    const subscription = await subscribe("ahead");
    const issued = await lastIssued();
    // What a database restored behind its checkpoints looks like: the checkpoint is ahead of the store.
    await db.sql`update eventbus.checkpoints set position = ${issued + 10} where name = 'ahead'`;
    expect(await status(subscription)).toMatchObject({ checkpoint: issued + 10, lag: 0, ahead: 10 });
    // The next three events land at or below the checkpoint: never forwarded, and the status says so.
    await appendToStream(db.sql, "ahead-1", [{ type: "A" }, { type: "B" }, { type: "C" }]);
    expect(await status(subscription)).toMatchObject({ lag: 0, ahead: 7 });
  });

  it("is not ahead when the positions past the head went to appends that rolled back", async () => {
    const subscription = await subscribe("rolled-back");
    await db.sql
      .begin(async (tx) => {
        await appendToStream(tx, "rolled-1", [{ type: "A" }, { type: "B" }]);
        throw new Error("roll back");
      })
      .catch(() => {});
    const issued = await lastIssued();
    // A listener that scanned through the rolled-back positions stores a checkpoint past the newest event.
    await db.sql`update eventbus.checkpoints set position = ${issued} where name = 'rolled-back'`;
    const now = await status(subscription);
    expect(now.checkpoint).toBeGreaterThan(now.head);
    expect(now).toMatchObject({ lag: 0, ahead: 0, state: "active" });
  });
});
