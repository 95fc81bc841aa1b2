import { describe, expect, it } from "vitest";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { receiveEvents, useListenerHarness } from "./support.ts";

const bus = useListenerHarness("delivery");

describe("persistent subscriptions", () => {
  it("delivers every event, past and future, to every matching subscription", async () => {
    await appendToStream(bus.db.sql, "orders-1", [
      { type: "OrderPlaced", data: { total: 10 } },
      { type: "OrderPaid", data: { total: 10 } },
    ]);
    const all = await bus.subscribe("all", {});
    const placed = await bus.subscribe("placed", { filter: { type: ["OrderPlaced"] } });
    const big = await bus.subscribe("big", { filter: { data: { total: [{ numeric: [">", 50] }] } } });
    const narrowed = await bus.subscribe("narrowed", {
      filter: {
        subject: [{ prefix: "orders" }],
        type: [{ "anything-but": "OrderPaid" }],
        // `position` is a decimal string in CloudEvents; numeric matching applies to JSON numbers.
        streamversion: [{ numeric: [">", 0] }],
      },
    });
    await appendToStream(bus.db.sql, "orders-2", [{ type: "OrderPlaced", data: { total: 99 } }]);
    await appendToStream(bus.db.sql, "users-1", [{ type: "UserCreated", data: { name: "a" } }]);

    const allEvents = await receiveEvents(bus.sqs, all.queueUrl, 4, { settleMs: 300 });
    expect(allEvents.map((r) => r.event.type).sort()).toEqual(
      ["OrderPaid", "OrderPlaced", "OrderPlaced", "UserCreated"].sort(),
    );
    const placedEvents = await receiveEvents(bus.sqs, placed.queueUrl, 2, { settleMs: 300 });
    expect(placedEvents.map((r) => r.event.subject).sort()).toEqual(["orders-1", "orders-2"]);
    const bigEvents = await receiveEvents(bus.sqs, big.queueUrl, 1, { settleMs: 300 });
    expect(bigEvents.map((r) => r.event.data)).toEqual([{ total: 99 }]);
    expect(bigEvents[0]!.attributes).toMatchObject({ type: "OrderPlaced", streamid: "orders-2" });
    const narrowedEvents = await receiveEvents(bus.sqs, narrowed.queueUrl, 2, { settleMs: 300 });
    expect(narrowedEvents.map((r) => `${r.event.subject}/${r.event.type}`).sort()).toEqual([
      "orders-1/OrderPlaced",
      "orders-2/OrderPlaced",
    ]);
  });
});

describe("startFrom", () => {
  it("starts at the position given in startFrom, inclusive, and at the head for current", async () => {
    const appended = await appendToStream(bus.db.sql, "start-1", [
      { type: "Start", data: { i: 1 } },
      { type: "Start", data: { i: 2 } },
      { type: "Start", data: { i: 3 } },
    ]);
    const fromSecond = await bus.subscribe("from-second", {
      startFrom: appended.events[1]!.position,
      filter: { subject: ["start-1"] },
    });
    const current = await bus.subscribe("from-current", {
      startFrom: "current",
      filter: { subject: ["start-1"] },
    });
    await appendToStream(bus.db.sql, "start-1", [{ type: "Start", data: { i: 4 } }]);
    const received = await receiveEvents(bus.sqs, fromSecond.queueUrl, 3, { settleMs: 300 });
    expect(received.map((r) => r.event.data)).toEqual([{ i: 2 }, { i: 3 }, { i: 4 }]);
    const live = await receiveEvents(bus.sqs, current.queueUrl, 1, { settleMs: 300 });
    expect(live.map((r) => r.event.data)).toEqual([{ i: 4 }]);
  });
});
