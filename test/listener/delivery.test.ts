import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { type Listener, startListener } from "../../lib/listener/startListener.ts";
import { createSubscription } from "../../lib/subscriptions/createSubscription.ts";
import { parseSubscriptionDefinition } from "../../lib/subscriptions/definition.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createSqsClient, receiveEvents, uniquePrefix } from "./support.ts";

const sqs = createSqsClient();
const prefix = uniquePrefix("delivery");
let db: TestDatabase;
let listener: Listener;

beforeAll(async () => {
  db = await createTestDatabase();
  listener = await startListener({ sql: db.sql, sqs, source: "urn:test", claimIntervalMs: 200 });
});
afterAll(async () => {
  await listener.stop();
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

describe("persistent subscriptions", () => {
  it("delivers every event, past and future, to every matching subscription", async () => {
    await appendToStream(db.sql, "orders-1", [
      { type: "OrderPlaced", data: { total: 10 } },
      { type: "OrderPaid", data: { total: 10 } },
    ]);
    const all = await subscribe("all", {});
    const placed = await subscribe("placed", { filter: { type: ["OrderPlaced"] } });
    const big = await subscribe("big", { filter: { data: { total: [{ numeric: [">", 50] }] } } });
    const narrowed = await subscribe("narrowed", {
      filter: {
        subject: [{ prefix: "orders" }],
        type: [{ "anything-but": "OrderPaid" }],
        position: [{ numeric: [">", 0] }],
      },
    });
    await appendToStream(db.sql, "orders-2", [{ type: "OrderPlaced", data: { total: 99 } }]);
    await appendToStream(db.sql, "users-1", [{ type: "UserCreated", data: { name: "a" } }]);

    const allEvents = await receiveEvents(sqs, all.queueUrl, 4, { settleMs: 300 });
    expect(allEvents.map((r) => r.event.type).sort()).toEqual(
      ["OrderPaid", "OrderPlaced", "OrderPlaced", "UserCreated"].sort(),
    );
    const placedEvents = await receiveEvents(sqs, placed.queueUrl, 2, { settleMs: 300 });
    expect(placedEvents.map((r) => r.event.subject).sort()).toEqual(["orders-1", "orders-2"]);
    const bigEvents = await receiveEvents(sqs, big.queueUrl, 1, { settleMs: 300 });
    expect(bigEvents.map((r) => r.event.data)).toEqual([{ total: 99 }]);
    expect(bigEvents[0]!.attributes).toMatchObject({ type: "OrderPlaced", streamid: "orders-2" });
    const narrowedEvents = await receiveEvents(sqs, narrowed.queueUrl, 2, { settleMs: 300 });
    expect(narrowedEvents.map((r) => `${r.event.subject}/${r.event.type}`).sort()).toEqual([
      "orders-1/OrderPlaced",
      "orders-2/OrderPlaced",
    ]);
  });
});

describe("startFrom", () => {
  it("starts at the position given in startFrom, inclusive, and at the head for current", async () => {
    const appended = await appendToStream(db.sql, "start-1", [
      { type: "Start", data: { i: 1 } },
      { type: "Start", data: { i: 2 } },
      { type: "Start", data: { i: 3 } },
    ]);
    const fromSecond = await subscribe("from-second", {
      startFrom: appended.events[1]!.position,
      filter: { subject: ["start-1"] },
    });
    const current = await subscribe("from-current", {
      startFrom: "current",
      filter: { subject: ["start-1"] },
    });
    await appendToStream(db.sql, "start-1", [{ type: "Start", data: { i: 4 } }]);
    const received = await receiveEvents(sqs, fromSecond.queueUrl, 3, { settleMs: 300 });
    expect(received.map((r) => r.event.data)).toEqual([{ i: 2 }, { i: 3 }, { i: 4 }]);
    const live = await receiveEvents(sqs, current.queueUrl, 1, { settleMs: 300 });
    expect(live.map((r) => r.event.data)).toEqual([{ i: 4 }]);
  });
});
