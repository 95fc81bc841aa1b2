import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRecordingProxy } from "./faultProxies.ts";
import { type RealtimeHarness, startRealtimeHarness, type TestClient } from "./support.ts";

let h: RealtimeHarness;
let recorder: Awaited<ReturnType<typeof startRecordingProxy>>;
beforeAll(async () => {
  h = await startRealtimeHarness({
    dynamoEndpoint: async (endpoint) => {
      recorder = await startRecordingProxy(endpoint);
      return recorder.endpoint;
    },
  });
});
afterAll(async () => {
  await h?.close();
  await recorder?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const publish = async (topic: string, data: unknown) => {
  const response = await h.api.request("POST", `/topics/${encodeURIComponent(topic)}/messages`, {
    body: { data },
  });
  expect(response.status).toBe(202);
};

/** The `message` frames that arrive within `ms`, as [topic, data]. */
async function messagesWithin(client: TestClient, ms = 800) {
  await sleep(ms);
  return client.frames
    .splice(0)
    .filter((frame) => frame.type === "message")
    .map((frame) => [frame.topic, frame.data]);
}

describe("wildcard topic subscriptions", () => {
  it("deliver publishes to every topic one segment below the prefix, under the topic published to", async () => {
    const client = await h.connect();
    expect(await client.request({ action: "subscribe", topic: "room:lobby.*" })).toMatchObject({
      type: "ack",
    });
    await publish("room:lobby.a", 1);
    await publish("room:lobby.b", 2);
    await publish("room:lobby", 3); // no segment below
    await publish("room:lobby.a.deep", 4); // two segments below
    await publish("room:lobbyist.a", 5); // another prefix
    await publish("room:lobby.c", 6);
    const frame = await client.next((f) => f.type === "message" && f.data === 1);
    expect(frame).toEqual({ type: "message", topic: "room:lobby.a", data: 1, sender: null });
    await client.next((f) => f.type === "message" && f.data === 6);
    expect(client.frames.filter((f) => f.type === "message").map((f) => [f.topic, f.data])).toEqual([
      ["room:lobby.b", 2],
    ]);
    client.frames.splice(0);
    expect(await messagesWithin(client)).toEqual([]);
  });

  it("check the token's streams bound against each matched topic, as a direct subscribe does", async () => {
    const token = await h.token("realtime:subscribe", ["chat.public-*"]);
    const client = await h.connect(token);
    // A direct subscribe to the secret topic is refused ...
    expect(await client.request({ action: "subscribe", topic: "chat.secret" })).toMatchObject({
      type: "error",
      code: "FORBIDDEN",
    });
    // ... so the wildcard never delivers it either.
    expect(await client.request({ action: "subscribe", topic: "chat.*" })).toMatchObject({ type: "ack" });
    await publish("chat.secret", "hidden");
    await publish("chat.public-1", "shown");
    await client.next((f) => f.type === "message" && f.data === "shown");
    expect(await messagesWithin(client, 500)).toEqual([]);
    // Without the scope, a wildcard is refused outright.
    const publisher = await h.connect(await h.token("realtime:publish"));
    expect(await publisher.request({ action: "subscribe", topic: "chat.*" })).toMatchObject({
      type: "error",
      code: "FORBIDDEN",
    });
  });

  it("deliver a message once to a connection subscribed directly and by wildcard, and apply filters", async () => {
    const client = await h.connect();
    await client.request({ action: "subscribe", topic: "game.*", filter: { data: { kind: ["move"] } } });
    await client.request({ action: "subscribe", topic: "game.1" });
    await publish("game.1", { kind: "move" }); // matches both subscriptions: delivered once
    await publish("game.1", { kind: "chat" }); // the direct subscription only
    await publish("game.2", { kind: "chat" }); // filtered out
    await publish("game.2", { kind: "move" }); // the wildcard only
    const got: string[] = [];
    for (let i = 0; i < 3; i++) {
      const frame = await client.next((f) => f.type === "message");
      got.push(`${frame.topic} ${frame.data.kind}`);
    }
    expect(got.sort()).toEqual(["game.1 chat", "game.1 move", "game.2 move"]);
    expect(await messagesWithin(client, 500)).toEqual([]);
  });

  it("stop after unsubscribing from the wildcard", async () => {
    const client = await h.connect();
    await client.request({ action: "subscribe", topic: "feed.*" });
    await publish("feed.x", "before");
    await client.next((f) => f.type === "message" && f.data === "before");
    expect(await client.request({ action: "unsubscribe", topic: "feed.*" })).toMatchObject({ type: "ack" });
    await publish("feed.x", "after");
    expect(await messagesWithin(client)).toEqual([]);
  });

  it("refuse malformed wildcards, wildcards over event topics, and publishing to a wildcard", async () => {
    const client = await h.connect();
    for (const topic of [
      "room:*.a",
      "room:lobby*",
      "*",
      ".*",
      "room.**",
      "room.*.*",
      "a#b.*",
      `${"x".repeat(199)}.*`,
    ]) {
      const refused = await client.request({ action: "subscribe", topic });
      expect(refused, topic).toMatchObject({ type: "error", code: "VALIDATION_FAILED" });
    }
    const rule = await client.request({ action: "subscribe", topic: "room:*.a" });
    expect(rule.message).toContain("followed by '.*'");
    for (const topic of ["stream:orders-*", "category:*", "$all.*"]) {
      const refused = await client.request({ action: "subscribe", topic });
      expect(refused, topic).toMatchObject({ type: "error", code: "VALIDATION_FAILED" });
    }
    expect((await client.request({ action: "subscribe", topic: "stream:orders-*" })).message).toContain(
      "ephemeral topics only",
    );
    const published = await client.request({ action: "publish", topic: "room:lobby.*", data: 1 });
    expect(published).toMatchObject({ type: "error", code: "VALIDATION_FAILED" });
    expect(published.message).toContain("is a wildcard");
    const overHttp = await h.api.request("POST", `/topics/${encodeURIComponent("room:lobby.*")}/messages`, {
      body: { data: 1 },
    });
    expect(overHttp.body).toMatchObject({ status: 400, code: "VALIDATION_FAILED" });
    expect(await client.request({ action: "subscribe", topic: "room:from.*", from: 1 })).toMatchObject({
      type: "error",
      code: "VALIDATION_FAILED",
    });
  });

  it("keep a publish nobody listens to at one DynamoDB read, wildcard included", async () => {
    const before = recorder.requests.length;
    await publish("quiet.x", "nobody");
    const mentions = (text: string) => recorder.requests.slice(before).filter((r) => r.body.includes(text));
    for (let i = 0; i < 100 && mentions("dir#quiet.x").length === 0; i++) await sleep(50);
    await sleep(300);
    // The topic and its wildcard, in one BatchGetItem; no Query.
    expect(mentions("quiet.").map((r) => r.operation)).toEqual(["BatchGetItem"]);
    expect(mentions("dir#quiet.*")).toHaveLength(1);

    // A wildcard subscriber: its shard is queried, nothing else.
    const client = await h.connect();
    await client.request({ action: "subscribe", topic: "quiet.*" });
    const start = recorder.requests.length;
    await publish("quiet.y", "heard");
    await client.next((f) => f.type === "message" && f.data === "heard");
    const operations = recorder.requests
      .slice(start)
      .filter((r) => r.body.includes("quiet."))
      .map((r) => r.operation);
    expect(operations).toEqual(["BatchGetItem", "Query"]);
  });
});
