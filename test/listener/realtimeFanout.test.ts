import { CreateQueueCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { type Listener, startListener } from "../../lib/listener/startListener.ts";
import type { FanoutMessage } from "../../lib/realtime/fanoutMessage.ts";
import { markTopicListened } from "../../lib/realtime/listenedTopics.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createSqsClient, uniquePrefix } from "./support.ts";

const sqs = createSqsClient();
let db: TestDatabase;
let listener: Listener;
let queueUrl: string;

beforeAll(async () => {
  db = await createTestDatabase();
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${uniquePrefix("rt")}realtime` })))
    .QueueUrl!;
  await appendToStream(db.sql, "old-1", [{ type: "BeforeFirstRun" }]);
  // Somebody subscribes to `$all`, so every event has an audience (see realtimeAudience.test.ts otherwise).
  await markTopicListened(db.sql, "$all");
  listener = await startListener({ sql: db.sql, sqs, source: "urn:test", realtimeQueueUrl: queueUrl });
});
afterAll(async () => {
  await listener.stop();
  await db.close();
  sqs.destroy();
});

async function receiveFanout(count: number): Promise<FanoutMessage[]> {
  const messages: FanoutMessage[] = [];
  const deadline = Date.now() + 10_000;
  let events = 0;
  while (events < count && Date.now() < deadline) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 10 }),
    );
    for (const m of Messages) {
      const message = JSON.parse(m.Body!) as FanoutMessage;
      messages.push(message);
      if (message.kind === "events") events += message.events.length;
    }
  }
  return messages;
}

describe("realtime fan-out", () => {
  it("forwards every event appended after its first run, packed into FanoutMessages of consecutive events", async () => {
    await expect.poll(() => listener.owned(), { timeout: 10_000 }).toContain("$realtime");
    await appendToStream(db.sql, "room-1", [
      { type: "Said", data: { text: "hi" } },
      { type: "Said", data: { text: "there" } },
    ]);
    // Big events split across messages of at most ~200 KB each.
    const blob = "x".repeat(90_000);
    await appendToStream(
      db.sql,
      "room-2",
      Array.from({ length: 5 }, (_, i) => ({ type: "Big", data: { i, blob } })),
    );
    const messages = await receiveFanout(7);
    const events = messages.flatMap((m) => (m.kind === "events" ? m.events : []));
    expect(events.map((e) => e.type).sort()).toEqual(["Big", "Big", "Big", "Big", "Big", "Said", "Said"]);
    expect(events.map((e) => e.source)).toEqual(Array(7).fill("urn:test"));
    // Each message is a run of consecutive events (SQS standard queues may reorder whole messages).
    for (const m of messages) {
      // CloudEvents positions are decimal strings.
      const positions = m.kind === "events" ? m.events.map((e) => Number(e.position)) : [];
      expect(positions).toEqual(positions.map((_, i) => positions[0]! + i));
    }
    expect(messages.length).toBeGreaterThan(1);
    for (const m of messages) expect(JSON.stringify(m).length).toBeLessThanOrEqual(200 * 1024 + 100);
  });

  it("keeps forwarding past an event with characters SQS refuses, and delivers it intact", async () => {
    const text = "\uFFFE \uFFFF \u{1F600}";
    await appendToStream(db.sql, "room-3", [
      { type: "Odd", data: { text } },
      { type: "After", data: { n: 1 } },
    ]);
    const events = (await receiveFanout(2)).flatMap((m) => (m.kind === "events" ? m.events : []));
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ["Odd", { text }],
      ["After", { n: 1 }],
    ]);
    const [{ parked }] = await db.sql<
      [{ parked: number }]
    >`select count(*)::int8 as parked from eventbus.parked`;
    expect(parked).toBe(0);
  });
});
