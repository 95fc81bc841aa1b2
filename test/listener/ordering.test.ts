import { describe, expect, it } from "vitest";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { replaySubscription } from "../../lib/subscriptions/replaySubscription.ts";
import { receiveEvents, useListenerHarness } from "./support.ts";

const bus = useListenerHarness("order", { pageSize: 37 });

describe("ordered subscriptions", () => {
  it("deliver each stream's events in stream order, one message group per stream", async () => {
    const subscription = await bus.subscribe("ordered", { ordering: "stream" });
    const streams = Array.from({ length: 12 }, (_, i) => `account-${i}`);
    // Concurrent writers, several appends per stream, interleaved across streams.
    await Promise.all(
      streams.map(async (streamId) => {
        for (let round = 0; round < 5; round++) {
          await appendToStream(
            bus.db.sql,
            streamId,
            Array.from({ length: 4 }, () => ({ type: "Moved", data: { round } })),
          );
        }
      }),
    );
    const total = streams.length * 20;
    const received = await receiveEvents(bus.sqs, subscription.queueUrl, total, {
      timeoutMs: 30_000,
      settleMs: 300,
    });
    expect(received).toHaveLength(total);
    for (const streamId of streams) {
      const mine = received.filter((r) => r.event.streamid === streamId);
      expect(mine.map((r) => r.event.streamversion)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(new Set(mine.map((r) => r.groupId))).toEqual(new Set([streamId]));
    }

    // A replay is not swallowed by FIFO deduplication (the first delivery was moments ago).
    await replaySubscription(bus.db.sql, "ordered", "origin");
    const replayed = await receiveEvents(bus.sqs, subscription.queueUrl, total, {
      timeoutMs: 30_000,
      settleMs: 300,
    });
    expect(replayed).toHaveLength(total);
    expect(
      replayed.filter((r) => r.event.streamid === "account-3").map((r) => r.event.streamversion),
    ).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });
});
