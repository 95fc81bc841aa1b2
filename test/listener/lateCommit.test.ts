import { describe, expect, it } from "vitest";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { receiveEvents, useListenerHarness } from "./support.ts";

const bus = useListenerHarness("late", {
  // A fast poll, so the listener reads many times while the transaction is open.
  pollIntervalMs: 100,
});

describe("a late-committing transaction", () => {
  it("is never skipped, even though later appends were issued while it was open", async () => {
    const subscription = await bus.subscribe("late", {});
    await appendToStream(bus.db.sql, "before-1", [{ type: "Before" }]);
    await receiveEvents(bus.sqs, subscription.queueUrl, 1);

    let commit!: () => void;
    const committed = new Promise<void>((resolve) => {
      commit = resolve;
    });
    let appendedInside!: () => void;
    const inside = new Promise<void>((resolve) => {
      appendedInside = resolve;
    });
    const open = bus.db.sql.begin(async (tx) => {
      await appendToStream(tx, "slow-1", [{ type: "Slow" }, { type: "Slow" }]);
      appendedInside();
      await committed; // held open across the other appends
    });
    await inside;
    const others = Promise.all(
      Array.from({ length: 5 }, (_, i) => appendToStream(bus.db.sql, `fast-${i}`, [{ type: "Fast" }])),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    commit();
    await open;
    await others;

    const received = await receiveEvents(bus.sqs, subscription.queueUrl, 7, {
      timeoutMs: 10_000,
      settleMs: 500,
    });
    expect(received.map((r) => r.event.type).sort()).toEqual([...Array(5).fill("Fast"), "Slow", "Slow"]);
    const positions = received.map((r) => Number(r.event.position)).sort((a, b) => a - b);
    expect(positions).toEqual(Array.from({ length: 7 }, (_, i) => positions[0]! + i));
  });
});
