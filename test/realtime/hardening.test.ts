import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WebSocketEvent } from "../../lib/realtime/wsHandler.ts";
import { type RealtimeHarness, startRealtimeHarness, type TestClient } from "./support.ts";

let h: RealtimeHarness;
beforeAll(async () => {
  h = await startRealtimeHarness();
});
afterAll(() => h?.close());

/**
 * Invokes a route handler directly, many at once, as API Gateway may do for frames of one connection
 * (it makes no promise to invoke a connection's routes one at a time).
 */
async function invokeDirectly(routeKey: string, connectionId: string, bodies: unknown[]) {
  const { handler } = (await import(`../../functions/ws/${routeKey}.ts`)) as {
    handler: (event: WebSocketEvent) => Promise<unknown>;
  };
  await Promise.all(
    bodies.map((body) =>
      handler({
        requestContext: {
          routeKey,
          connectionId,
          eventType: "MESSAGE",
          stage: "local",
          domainName: "localhost",
        },
        body: JSON.stringify(body),
        isBase64Encoded: false,
      } as unknown as WebSocketEvent),
    ),
  );
}

async function frames(client: TestClient, count: number, predicate: (frame: any) => boolean) {
  const taken = [];
  for (let i = 0; i < count; i++) taken.push(await client.next(predicate, 30_000));
  return taken;
}

describe("topics per connection", () => {
  it("holds the 100-topic limit under 150 parallel subscribes, and frees a slot on unsubscribe", async () => {
    const client = await h.connect();
    const { connectionId } = await client.request({ action: "ping" });
    const bodies = Array.from({ length: 150 }, (_, i) => ({
      action: "subscribe",
      id: `s${i}`,
      topic: `room:${i}`,
    }));
    await invokeDirectly("subscribe", connectionId, bodies);
    const answers = await frames(client, 150, (f) => typeof f.id === "string" && f.id.startsWith("s"));
    const acks = answers.filter((f) => f.type === "ack");
    const refusals = answers.filter((f) => f.type === "error");
    expect(acks).toHaveLength(100);
    expect(refusals).toHaveLength(50);
    expect(refusals[0]).toMatchObject({
      code: "VALIDATION_FAILED",
      message: expect.stringContaining("100 topics"),
    });

    // Subscribing again to a topic it has takes no new slot; a new one needs a free slot.
    const subscribed = acks[0].id.slice(1);
    expect(await client.request({ action: "subscribe", topic: `room:${subscribed}` })).toMatchObject({
      type: "ack",
    });
    expect(await client.request({ action: "subscribe", topic: "room:new" })).toMatchObject({
      code: "VALIDATION_FAILED",
    });
    expect(await client.request({ action: "unsubscribe", topic: `room:${subscribed}` })).toMatchObject({
      type: "ack",
    });
    expect(await client.request({ action: "subscribe", topic: "room:new" })).toMatchObject({ type: "ack" });
  });
});

describe("ordering", () => {
  it("delivers one connection's 200 back-to-back publishes to a subscriber in send order", async () => {
    const [publisher, subscriber] = await Promise.all([h.connect(), h.connect()]);
    await subscriber.request({ action: "subscribe", topic: "room:order" });
    for (let i = 0; i < 200; i++) publisher.send({ action: "publish", topic: "room:order", data: i });
    const received = await frames(subscriber, 200, (f) => f.type === "message");
    expect(received.map((f) => f.data)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  }, 120_000);
});

describe("publishing", () => {
  it("delivers characters SQS refuses in a body (U+FFFE, U+FFFF, astral) exactly as published", async () => {
    const [publisher, subscriber] = await Promise.all([h.connect(), h.connect()]);
    await subscriber.request({ action: "subscribe", topic: "room:chars" });
    const data = { text: "a\uFFFEb\uFFFFc \u{1F600} \u0001" };
    expect(await publisher.request({ action: "publish", topic: "room:chars", data })).toMatchObject({
      type: "ack",
    });
    expect((await subscriber.next((f) => f.type === "message")).data).toEqual(data);
  });
});

describe("membership lookups", () => {
  it("sees a subscription acknowledged a moment ago, and no longer one just removed", async () => {
    const [first, second] = await Promise.all([h.connect(), h.connect()]);
    await first.request({ action: "subscribe", topic: "room:cache" });
    // A broadcast that lets the broadcaster cache the topic's members...
    await h.api.request("POST", "/topics/room:cache/messages", { body: { data: 1 } });
    expect((await first.next((f) => f.type === "message")).data).toBe(1);
    // ... then a change right before the next one, each time.
    for (let round = 2; round < 6; round++) {
      const [joining, leaving] = round % 2 === 0 ? [second, first] : [first, second];
      expect(await joining.request({ action: "subscribe", topic: "room:cache" })).toMatchObject({
        type: "ack",
      });
      expect(await leaving.request({ action: "unsubscribe", topic: "room:cache" })).toMatchObject({
        type: "ack",
      });
      await h.api.request("POST", "/topics/room:cache/messages", { body: { data: round } });
      expect((await joining.next((f) => f.type === "message")).data).toBe(round);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect([...first.frames, ...second.frames].filter((f) => f.type === "message")).toEqual([]);
  });
});

describe("frames", () => {
  it("closes a connection that sends a frame above API Gateway's 32 KB (1009)", async () => {
    const client = await h.connect();
    client.send({ action: "publish", topic: "room:big", data: "x".repeat(40 * 1024) });
    expect((await client.waitClosed()).code).toBe(1009);
    expect(client.frames).toEqual([]);
  });

  it("accepts a 100 KB message sent as frames of 32 KB", async () => {
    const client = await h.connect();
    const text = JSON.stringify({
      action: "publish",
      id: "big",
      topic: "room:big",
      data: "y".repeat(100 * 1024),
    });
    const chunk = 32 * 1024;
    for (let i = 0; i < text.length; i += chunk) {
      client.socket.send(text.slice(i, i + chunk), { fin: i + chunk >= text.length });
    }
    expect(await client.next((f) => f.id === "big")).toMatchObject({ type: "ack" });
  });

  it("answers a binary frame with a precise error and keeps the connection open", async () => {
    const client = await h.connect();
    client.socket.send(Buffer.from(JSON.stringify({ action: "ping", id: "bin" })), { binary: true });
    expect(await client.next()).toMatchObject({
      type: "error",
      code: "VALIDATION_FAILED",
      message: expect.stringContaining("Binary frames are not supported"),
    });
    expect(await client.request({ action: "ping" })).toMatchObject({ type: "pong" });
  });

  it("names an unknown action", async () => {
    const client = await h.connect();
    expect(await client.request({ action: "dance" })).toMatchObject({
      type: "error",
      code: "ROUTE_NOT_FOUND",
      message: expect.stringContaining("'dance'"),
    });
  });

  it("says 200 characters for a topic that is too long", async () => {
    const client = await h.connect();
    const answer = await client.request({ action: "subscribe", topic: `room:${"a".repeat(230)}` });
    expect(answer).toMatchObject({ type: "error", code: "VALIDATION_FAILED" });
    expect(answer.message).toContain("1-200 characters");
    expect(answer.message).not.toContain("220");
  });

  it("refuses a from beyond the head, naming from and the head", async () => {
    const client = await h.connect();
    const appended = await h.api.request("POST", "/streams/head-1/events", { body: { type: "T" } });
    const head = Number(appended.body.events[0].position);
    const answer = await client.request({ action: "subscribe", topic: "$all", from: head + 1000 });
    expect(answer).toMatchObject({ type: "error", code: "VALIDATION_FAILED" });
    expect(answer.message).toContain("'from'");
    expect(answer.message).toContain(`head (${head})`);
    // The next position is fine: nothing to replay yet, live events follow.
    expect(await client.request({ action: "subscribe", topic: "$all", from: head + 1 })).toMatchObject({
      type: "ack",
    });
  });

  it("refuses NUL, lone surrogates and deep nesting in frames precisely, never INTERNAL", async () => {
    const client = await h.connect();
    const deep = `${"[".repeat(5000)}1${"]".repeat(5000)}`;
    const cases: Array<[string, string]> = [
      [
        JSON.stringify({ action: "publish", id: "nul", topic: "room:x", data: { text: "a\u0000b" } }),
        "/data/text",
      ],
      [
        JSON.stringify({ action: "subscribe", id: "sur", topic: "$all", filter: { type: ["\uD800"] } }),
        "/filter/type/0",
      ],
      [`{"action":"publish","id":"deep","topic":"room:x","data":${deep}}`, "nest"],
      [
        JSON.stringify({ action: "subscribe", id: "key", topic: "$all", filter: { "a\u0000": ["x"] } }),
        "member name",
      ],
    ];
    for (const [text, mention] of cases) {
      const id = (JSON.parse(text) as { id: string }).id;
      client.send(text);
      const answer = await client.next((f) => f.id === id);
      expect(answer, id).toMatchObject({ type: "error", code: "VALIDATION_FAILED" });
      expect(answer.message, id).toContain(mention);
    }
    expect(await client.request({ action: "ping" })).toMatchObject({ type: "pong" });
  });
});
