import { describe, expect, it } from "vitest";
import { createConsumer } from "../../lib/consumer/createConsumer.ts";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { startSqsPoller } from "../../lib/local/sqsPoller.ts";
import { readQueueDepth } from "../../lib/subscriptions/subscriptionQueues.ts";
import { useListenerHarness } from "../listener/support.ts";

const bus = useListenerHarness("consumer");

describe("consumer helper", () => {
  it("fails only the messages whose handler threw; they reach the DLQ after maxReceiveCount", async () => {
    const subscription = await bus.subscribe("standard", {
      filter: { type: ["Job"] },
      maxReceiveCount: 2,
      visibilityTimeout: 1,
    });
    const handled: Array<{ n: number; receiveCount: number }> = [];
    const handler = createConsumer(async (event, { receiveCount }) => {
      const { n, poison } = event.data as { n: number; poison?: boolean };
      handled.push({ n, receiveCount });
      if (poison) throw new Error("cannot handle this one");
    });
    const poller = startSqsPoller({
      sqs: bus.sqs,
      queueUrl: subscription.queueUrl,
      handler,
      waitTimeSeconds: 1,
    });
    try {
      await appendToStream(bus.db.sql, "jobs-1", [
        { type: "Job", data: { n: 1 } },
        { type: "Job", data: { n: 2, poison: true } },
        { type: "Job", data: { n: 3 } },
      ]);
      await expect
        .poll(async () => (await readQueueDepth(bus.sqs, subscription.dlqUrl))!.visible, { timeout: 15_000 })
        .toBe(1);
      expect(handled.filter((h) => h.n === 1)).toHaveLength(1);
      expect(handled.filter((h) => h.n === 3)).toHaveLength(1);
      expect(handled.filter((h) => h.n === 2).map((h) => h.receiveCount)).toEqual([1, 2]);
    } finally {
      await poller.stop();
    }
  });

  it("on a FIFO queue, holds back the rest of a failed stream while other streams go on", async () => {
    const subscription = await bus.subscribe("fifo", {
      filter: { type: ["Step"] },
      ordering: "stream",
      visibilityTimeout: 1,
    });
    const handled: string[] = [];
    let failedOnce = false;
    const handler = createConsumer(async (event) => {
      const tag = `${event.streamid}#${event.streamversion}`;
      if (tag === "flow-a#2" && !failedOnce) {
        failedOnce = true;
        throw new Error("transient");
      }
      handled.push(tag);
    });
    await appendToStream(bus.db.sql, "flow-a", [{ type: "Step" }, { type: "Step" }, { type: "Step" }]);
    await appendToStream(bus.db.sql, "flow-b", [{ type: "Step" }, { type: "Step" }]);
    await expect
      .poll(async () => (await readQueueDepth(bus.sqs, subscription.queueUrl))!.visible, { timeout: 10_000 })
      .toBe(5);
    const poller = startSqsPoller({
      sqs: bus.sqs,
      queueUrl: subscription.queueUrl,
      handler,
      waitTimeSeconds: 1,
    });
    try {
      await expect.poll(() => handled.length, { timeout: 15_000 }).toBe(5);
      expect(failedOnce).toBe(true);
      expect(handled.filter((t) => t.startsWith("flow-a"))).toEqual(["flow-a#1", "flow-a#2", "flow-a#3"]);
      expect(handled.filter((t) => t.startsWith("flow-b"))).toEqual(["flow-b#1", "flow-b#2"]);
      // flow-b did not wait for flow-a's retry.
      expect(handled.indexOf("flow-b#2")).toBeLessThan(handled.indexOf("flow-a#2"));
    } finally {
      await poller.stop();
    }
  });
});
