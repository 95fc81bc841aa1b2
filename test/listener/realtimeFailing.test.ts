import { CreateQueueCommand, DeleteQueueCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { realtimeForwardingRecord } from "../../functions/metrics/publishSubscriptionMetrics.ts";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { readRealtimeForwarding } from "../../lib/listener/realtimeForwarding.ts";
import { startListener } from "../../lib/listener/startListener.ts";
import { collectBusMetrics } from "../../lib/metrics/busMetrics.ts";
import { MetricsRegistry } from "../../lib/metrics/registry.ts";
import type { FanoutMessage } from "../../lib/realtime/fanoutMessage.ts";
import { markTopicListened } from "../../lib/realtime/listenedTopics.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createSqsClient, uniquePrefix } from "./support.ts";

const sqs = createSqsClient();
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.close();
  sqs.destroy();
});

/** The streams of the events on the fan-out queue now. */
async function fannedOut(queueUrl: string): Promise<string[]> {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 10 }),
  );
  return Messages.flatMap((m) => {
    const message = JSON.parse(m.Body!) as FanoutMessage;
    return message.kind === "events" ? message.events.map((e) => e.streamid) : [];
  });
}

describe("the realtime fan-out's sends", () => {
  it("show as failing, with SQS's reason, while its queue is gone, and recover when it is back", async () => {
    const queueName = `${uniquePrefix("rtfail")}realtime`;
    const create = async () => (await sqs.send(new CreateQueueCommand({ QueueName: queueName }))).QueueUrl!;
    const queueUrl = await create();
    await markTopicListened(db.sql, "stream:live-1");
    const listener = await startListener({
      sql: db.sql,
      sqs,
      source: "urn:test",
      realtimeQueueUrl: queueUrl,
      claimIntervalMs: 100,
      pollIntervalMs: 200,
    });
    const registry = new MetricsRegistry();
    const failingGauge = async () => {
      await collectBusMetrics(registry, { sql: db.sql, sqs });
      return registry.read("eventbus_realtime_failing", {});
    };
    try {
      await expect.poll(() => listener.owned(), { timeout: 10_000 }).toContain("$realtime");
      await appendToStream(db.sql, "live-1", [{ type: "Said" }]);
      await expect.poll(() => fannedOut(queueUrl), { timeout: 10_000 }).toEqual(["live-1"]);
      expect(await readRealtimeForwarding(db.sql)).toMatchObject({ failingSince: null, lastError: null });
      expect(await failingGauge()).toBe(0);

      await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
      await appendToStream(db.sql, "live-1", [{ type: "Said" }]);
      await expect
        .poll(async () => (await readRealtimeForwarding(db.sql))?.failingSince, { timeout: 10_000 })
        .toBeInstanceOf(Date);
      const failing = (await readRealtimeForwarding(db.sql))!;
      expect(failing.owner).toMatch(/^eventbus-listener:/);
      expect(failing.lastError).toMatch(/^(AWS\.SimpleQueueService\.NonExistentQueue|QueueDoesNotExist): \S/);
      expect(await failingGauge()).toBe(1);
      // What the scheduled metrics function publishes, and the RealtimeFailing alarm watches.
      expect(realtimeForwardingRecord("bus", failing, Date.now())).toMatchObject({
        _aws: {
          CloudWatchMetrics: [
            {
              Namespace: "EventBus",
              Dimensions: [["Bus"]],
              Metrics: [{ Name: "RealtimeFailing", Unit: "Count" }],
            },
          ],
        },
        Bus: "bus",
        RealtimeFailing: 1,
      });

      // The queue back under its name: the event that waited is fanned out, and the failure is over.
      await create();
      await expect.poll(() => fannedOut(queueUrl), { timeout: 15_000 }).toEqual(["live-1"]);
      await expect
        .poll(async () => (await readRealtimeForwarding(db.sql))?.failingSince, { timeout: 10_000 })
        .toBeNull();
      expect((await readRealtimeForwarding(db.sql))!.lastError).toBe(failing.lastError);
      expect(await failingGauge()).toBe(0);
    } finally {
      await listener.stop();
    }
    // Without a listener nothing is sending, so nothing is failing either.
    expect((await readRealtimeForwarding(db.sql))!.owner).toBeNull();
  });
});
