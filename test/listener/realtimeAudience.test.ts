import { CreateQueueCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { type Listener, startListener } from "../../lib/listener/startListener.ts";
import type { FanoutMessage } from "../../lib/realtime/fanoutMessage.ts";
import { forgetStaleTopics, markTopicListened } from "../../lib/realtime/listenedTopics.ts";
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

async function startWithQueue() {
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${uniquePrefix("aud")}realtime` })))
    .QueueUrl!;
  const listener = await startListener({
    sql: db.sql,
    sqs,
    source: "urn:test",
    realtimeQueueUrl: queueUrl,
  });
  // Polled by hand: this also runs in `beforeAll`, where `expect.poll` is not available.
  for (const deadline = Date.now() + 10_000; !listener.owned().includes("$realtime"); ) {
    if (Date.now() > deadline) {
      await listener.stop();
      throw new Error("the listener did not claim $realtime");
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { listener, queueUrl };
}

/** Waits until the realtime checkpoint has passed `position`, i.e. the listener decided about it. */
async function forwardedThrough(position: number) {
  await expect
    .poll(
      async () =>
        (
          await db.sql<[{ position: number }]>`
          select position from eventbus.checkpoints where name = '$realtime'`
        )[0]?.position ?? 0,
      { timeout: 10_000 },
    )
    .toBeGreaterThanOrEqual(position);
}

/** Everything on the queue now (the checkpoint moves only after SQS accepted the sends). */
async function drainQueue(queueUrl: string): Promise<string[]> {
  const streams: string[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0, MaxNumberOfMessages: 10 }),
    );
    if (Messages.length === 0) return streams;
    for (const m of Messages) {
      const message = JSON.parse(m.Body!) as FanoutMessage;
      if (message.kind === "events") streams.push(...message.events.map((e) => e.streamid));
    }
  }
}

const append = async (streamId: string) =>
  (await appendToStream(db.sql, streamId, [{ type: "Said", data: { streamId } }])).events[0]!.position;

describe("realtime fan-out skips events nobody subscribes to", () => {
  let listener: Listener;
  let queueUrl: string;
  beforeAll(async () => {
    ({ listener, queueUrl } = await startWithQueue());
  });
  afterAll(() => listener.stop());

  it("sends nothing while no topic of the events has a member, and moves on", async () => {
    await append("quiet-1");
    await forwardedThrough(await append("quiet-2"));
    expect(await drainQueue(queueUrl)).toEqual([]);
  });

  it("sends exactly the events of listened streams and categories, in order", async () => {
    // What subscribing does between writing the membership and acknowledging it.
    await markTopicListened(db.sql, "stream:loud-1");
    await markTopicListened(db.sql, "category:orders");
    await append("loud-1");
    await append("quiet-3");
    await append("orders-7");
    await forwardedThrough(await append("quiet-4"));
    expect(await drainQueue(queueUrl)).toEqual(["loud-1", "orders-7"]);
  });

  it("sends every event once somebody subscribes to $all", async () => {
    await markTopicListened(db.sql, "$all");
    await append("quiet-5");
    await forwardedThrough(await append("quiet-6"));
    expect(await drainQueue(queueUrl)).toEqual(["quiet-5", "quiet-6"]);
  });
});

describe("the realtime target asleep while nobody listens (migration 0016)", () => {
  let listener: Listener;
  let queueUrl: string;
  beforeAll(async () => {
    await db.sql`delete from eventbus.listened_topics`;
    ({ listener, queueUrl } = await startWithQueue());
  });
  afterAll(() => listener.stop());

  it("moves its checkpoint on while nobody listens, then sends what follows a first subscription", async () => {
    const before = await append("sleepy-1");
    // Asleep, it still moves its checkpoint up to the safe head about once a second.
    await forwardedThrough(before);
    expect(await drainQueue(queueUrl)).toEqual([]);
    // What subscribing does between writing the membership and acknowledging it.
    await markTopicListened(db.sql, "stream:sleepy-1");
    const after = await append("sleepy-1");
    await append("sleepy-2");
    await forwardedThrough(after);
    expect(await drainQueue(queueUrl)).toEqual(["sleepy-1"]);
    const [{ head }] = await db.sql<[{ head: number }]>`
      select head from eventbus.listened_topics where topic = 'stream:sleepy-1'`;
    expect(head).toBeGreaterThanOrEqual(before);
    expect(head).toBeLessThan(after);
  });
});

it("forgets topics marked longer ago than any connection can live, and only those", async () => {
  await markTopicListened(db.sql, "stream:old-1");
  await markTopicListened(db.sql, "stream:recent-1");
  await db.sql`
    update eventbus.listened_topics set listened_at = now() - interval '3 hours 1 minute'
    where topic = 'stream:old-1'`;
  expect(await forgetStaleTopics(db.sql)).toBe(1);
  const marked = await db.sql<{ topic: string }[]>`
    select topic from eventbus.listened_topics where topic in ('stream:old-1', 'stream:recent-1')`;
  expect(marked.map((row) => row.topic)).toEqual(["stream:recent-1"]);
});
