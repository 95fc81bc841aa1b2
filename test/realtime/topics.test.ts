import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BroadcastDeps } from "../../lib/realtime/broadcast.ts";
import type { FanoutMessage } from "../../lib/realtime/fanoutMessage.ts";
import { type RealtimeHarness, startRealtimeHarness, type TestClient } from "./support.ts";

let h: RealtimeHarness;
beforeAll(async () => {
  h = await startRealtimeHarness();
});
afterAll(() => h?.close());

const append = async (streamId: string, events: Array<{ type: string; data?: unknown }>) => {
  const response = await h.api.request("POST", `/streams/${streamId}/events`, { body: events });
  expect(response.status).toBe(201);
  return response.body as { events: Array<{ id: string; position: number | string }> };
};

const eventsFrame = (client: TestClient, topic: string) =>
  client.next((frame) => frame.type === "events" && frame.topic === topic);

/** Frames of `topic` that arrive within `ms` (for asserting that nothing more arrives). */
async function settle(client: TestClient, ms = 400) {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return client.frames.splice(0);
}

describe("event topics", () => {
  it("delivers appended events to stream, category and $all subscribers as CloudEvents", async () => {
    const client = await h.connect();
    for (const topic of ["stream:order-1", "category:order", "$all"]) {
      expect(await client.request({ action: "subscribe", topic })).toMatchObject({ type: "ack" });
    }
    const appended = await append("order-1", [{ type: "OrderPlaced", data: { total: 42 } }]);
    for (const topic of ["stream:order-1", "category:order", "$all"]) {
      const frame = await eventsFrame(client, topic);
      expect(frame.events).toEqual([
        expect.objectContaining({
          specversion: "1.0",
          id: appended.events[0]!.id,
          type: "OrderPlaced",
          subject: "order-1",
          streamid: "order-1",
          streamversion: 1,
          position: String(appended.events[0]!.position), // a decimal string in CloudEvents
          data: { total: 42 },
        }),
      ]);
    }
  });

  it("delivers only the events of the subscribed stream or category", async () => {
    const client = await h.connect();
    await client.request({ action: "subscribe", topic: "stream:cart-1" });
    await client.request({ action: "subscribe", topic: "category:invoice" });
    await append("cart-2", [{ type: "Other" }]);
    await append("payment-1", [{ type: "Other" }]);
    await append("cart-1", [{ type: "Mine" }]);
    await append("invoice-9", [{ type: "MineToo" }]);
    expect((await eventsFrame(client, "stream:cart-1")).events.map((e: any) => e.type)).toEqual(["Mine"]);
    expect((await eventsFrame(client, "category:invoice")).events.map((e: any) => e.type)).toEqual([
      "MineToo",
    ]);
    expect(await settle(client)).toEqual([]);
  });

  it("applies a subscription's filter (EventBridge-style pattern over the CloudEvent)", async () => {
    const client = await h.connect();
    const ack = await client.request({
      action: "subscribe",
      topic: "category:shop",
      filter: { type: ["ItemAdded"], data: { price: [{ numeric: [">", 100] }] } },
    });
    expect(ack.type).toBe("ack");
    await append("shop-1", [
      { type: "ItemAdded", data: { price: 5 } },
      { type: "ItemRemoved", data: { price: 500 } },
      { type: "ItemAdded", data: { price: 500 } },
    ]);
    const frame = await eventsFrame(client, "category:shop");
    expect(frame.events.map((e: any) => [e.type, e.data.price])).toEqual([["ItemAdded", 500]]);
    expect(await settle(client)).toEqual([]);
  });

  it("refuses a malformed filter with an error frame", async () => {
    const client = await h.connect();
    const error = await client.request({
      action: "subscribe",
      topic: "$all",
      filter: { type: "not-an-array" },
    });
    expect(error).toMatchObject({ type: "error", code: "VALIDATION_FAILED" });
    expect(error.message).toContain("/type");
  });

  it("stops delivering after unsubscribe", async () => {
    const client = await h.connect();
    await client.request({ action: "subscribe", topic: "stream:unsub-1" });
    await append("unsub-1", [{ type: "Before" }]);
    expect((await eventsFrame(client, "stream:unsub-1")).events[0].type).toBe("Before");
    expect(await client.request({ action: "unsubscribe", topic: "stream:unsub-1" })).toMatchObject({
      type: "ack",
    });
    await append("unsub-1", [{ type: "After" }]);
    expect(await settle(client, 600)).toEqual([]);
  });
});

describe("authorisation per topic", () => {
  it("bounds stream and ephemeral topics by the token's streams claim and scopes", async () => {
    const client = await h.connect(await h.token("realtime:subscribe events:read", ["acme-*"]));
    expect(await client.request({ action: "subscribe", topic: "stream:acme-1" })).toMatchObject({
      type: "ack",
    });
    expect(await client.request({ action: "subscribe", topic: "stream:other-1" })).toMatchObject({
      type: "error",
      code: "FORBIDDEN",
    });
    expect(await client.request({ action: "subscribe", topic: "room:lobby" })).toMatchObject({
      type: "error",
      code: "FORBIDDEN",
    });
    expect(await client.request({ action: "subscribe", topic: "acme-chat" })).toMatchObject({ type: "ack" });
    expect(await client.request({ action: "publish", topic: "acme-chat", data: 1 })).toMatchObject({
      type: "error",
      code: "FORBIDDEN",
    });
  });

  it("needs events:read for event topics", async () => {
    const client = await h.connect(await h.token("realtime:subscribe"));
    expect(await client.request({ action: "subscribe", topic: "$all" })).toMatchObject({
      type: "error",
      code: "FORBIDDEN",
    });
    expect(await client.request({ action: "subscribe", topic: "room:lobby" })).toMatchObject({ type: "ack" });
  });

  it("delivers on $all only the streams a bounded token covers", async () => {
    const client = await h.connect(await h.token("realtime:subscribe events:read", ["bounded-*"]));
    await client.request({ action: "subscribe", topic: "$all" });
    await append("secret-1", [{ type: "Hidden" }]);
    await append("bounded-1", [{ type: "Visible" }]);
    expect((await eventsFrame(client, "$all")).events.map((e: any) => e.type)).toEqual(["Visible"]);
    expect(await settle(client)).toEqual([]);
  });
});

describe("ephemeral messages", () => {
  it("publishes to every subscriber, including the sender unless excludeSelf", async () => {
    const [alice, bob, carol] = await Promise.all([h.connect(), h.connect(), h.connect()]);
    for (const client of [alice, bob]) await client.request({ action: "subscribe", topic: "room:lobby" });
    await carol.request({ action: "subscribe", topic: "room:other" });
    const { connectionId: aliceId } = await alice.request({ action: "ping" });

    expect(
      await alice.request({ action: "publish", topic: "room:lobby", data: { text: "hi" } }),
    ).toMatchObject({
      type: "ack",
    });
    for (const client of [alice, bob]) {
      expect(await client.next((f) => f.type === "message")).toEqual({
        type: "message",
        topic: "room:lobby",
        data: { text: "hi" },
        sender: aliceId,
      });
    }

    await alice.request({
      action: "publish",
      topic: "room:lobby",
      data: { text: "quiet" },
      excludeSelf: true,
    });
    expect((await bob.next((f) => f.type === "message")).data).toEqual({ text: "quiet" });
    expect(await settle(alice)).toEqual([]);
    expect(await settle(carol)).toEqual([]);
  });

  it("refuses publishing to event topics and without the publish scope", async () => {
    const client = await h.connect();
    expect(await client.request({ action: "publish", topic: "stream:order-1", data: {} })).toMatchObject({
      type: "error",
      code: "VALIDATION_FAILED",
    });
    const reader = await h.connect(await h.token("realtime:subscribe"));
    expect(await reader.request({ action: "publish", topic: "room:lobby", data: {} })).toMatchObject({
      type: "error",
      code: "FORBIDDEN",
    });
  });

  it("broadcasts from a server over HTTP", async () => {
    const client = await h.connect();
    await client.request({ action: "subscribe", topic: "news" });
    const response = await h.api.request("POST", "/topics/news/messages", {
      body: { data: { headline: "x" } },
    });
    expect(response).toMatchObject({ status: 202, body: { topic: "news" } });
    expect(await client.next((f) => f.type === "message")).toEqual({
      type: "message",
      topic: "news",
      data: { headline: "x" },
      sender: null,
    });

    const forbidden = await h.api.request("POST", "/topics/news/messages", {
      body: { data: 1 },
      token: await h.token("events:read"),
    });
    expect(forbidden).toMatchObject({ status: 403, body: { code: "FORBIDDEN" } });
    expect(await h.api.request("POST", "/topics/$all/messages", { body: { data: 1 } })).toMatchObject({
      status: 400,
      body: { code: "VALIDATION_FAILED" },
    });
    expect(await h.api.request("POST", "/topics/news/messages", { body: { nodata: 1 } })).toMatchObject({
      status: 400,
      body: { code: "VALIDATION_FAILED" },
    });
    expect(
      await h.api.request("POST", "/topics/news/messages", { body: { data: "x".repeat(130 * 1024) } }),
    ).toMatchObject({ status: 413, body: { code: "PAYLOAD_TOO_LARGE" } });
  });

  it("sends a direct message to one connection, and answers 410 once it is gone", async () => {
    const client = await h.connect();
    const { connectionId } = await client.request({ action: "ping" });
    const response = await h.api.request(
      "POST",
      `/connections/${encodeURIComponent(connectionId)}/messages`,
      {
        body: { data: { hello: "you" } },
      },
    );
    expect(response).toMatchObject({ status: 202, body: { connectionId } });
    expect(await client.next((f) => f.type === "message")).toEqual({
      type: "message",
      data: { hello: "you" },
      sender: null,
    });
    client.close();
    await client.waitClosed();
    const gone = await h.api.request("POST", `/connections/${encodeURIComponent(connectionId)}/messages`, {
      body: { data: 1 },
    });
    expect(gone).toMatchObject({ status: 410, body: { code: "CONNECTION_GONE" } });
  });
});

describe("large topics", () => {
  it("splits the posting among broadcaster invocations, each connection served once", async () => {
    const clients = await Promise.all(Array.from({ length: 7 }, () => h.connect()));
    for (const client of clients) await client.request({ action: "subscribe", topic: "room:crowd" });
    const { SendMessageCommand } = await import("@aws-sdk/client-sqs");
    const { broadcast } = await import("../../lib/realtime/broadcast.ts");
    const { createManagementApi } = await import("../../lib/realtime/postFrame.ts");
    const handedOff: number[] = [];
    const deps: BroadcastDeps = {
      table: { dynamo: h.dynamo, tableName: h.tableName },
      api: createManagementApi(h.gateway.managementEndpoint, "us-east-1"),
      connectionsPerInvocation: 3,
      // The other invocations: the broadcaster Lambda behind the harness's queue.
      handOff: async (messages) => {
        for (const message of messages) {
          if (message.kind === "deliver") handedOff.push(message.deliveries[0]!.connectionIds.length);
          await h.sqs.send(
            new SendMessageCommand({ QueueUrl: h.queueUrl, MessageBody: JSON.stringify(message) }),
          );
        }
      },
    };
    const result = await broadcast(deps, {
      kind: "message",
      topic: "room:crowd",
      data: { n: 1 },
      sender: null,
      excludeSelf: false,
    });
    expect(result.sent).toBe(3);
    // The rest in halves, which their receivers (sharing 500 each here) post whole.
    expect(handedOff).toEqual([2, 2]);
    for (const client of clients) {
      expect(await client.next((f) => f.type === "message")).toMatchObject({
        topic: "room:crowd",
        data: { n: 1 },
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const client of clients) expect(client.frames).toEqual([]);

    // A handed-off part larger than a share is split again by its receiver; a redelivered one is not
    // (its other parts went out the first time).
    // The pong names the connection.
    const ids = await Promise.all(
      clients.map(async (client) => (await client.request({ action: "ping" })).connectionId as string),
    );
    const part: FanoutMessage = {
      kind: "deliver",
      deliveries: [
        {
          frames: [{ type: "message", topic: "room:crowd", data: { n: 2 }, sender: null }],
          connectionIds: ids,
        },
      ],
    };
    handedOff.length = 0;
    expect((await broadcast(deps, part)).sent).toBe(3);
    expect(handedOff).toEqual([2, 2]);
    expect((await broadcast(deps, part, { redelivered: true })).sent).toBe(7);
    expect(handedOff).toEqual([2, 2]);
    for (const client of clients) {
      for (let copy = 0; copy < 2; copy++) {
        expect(await client.next((f) => f.type === "message")).toMatchObject({ data: { n: 2 } });
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const client of clients) expect(client.frames).toEqual([]);
  });

  it("posts to every connection itself when the hand-off fails", async () => {
    const clients = await Promise.all(Array.from({ length: 5 }, () => h.connect()));
    for (const client of clients) await client.request({ action: "subscribe", topic: "room:crowd-2" });
    const { broadcast } = await import("../../lib/realtime/broadcast.ts");
    const { createManagementApi } = await import("../../lib/realtime/postFrame.ts");
    const failures: unknown[] = [];
    const result = await broadcast(
      {
        table: { dynamo: h.dynamo, tableName: h.tableName },
        api: createManagementApi(h.gateway.managementEndpoint, "us-east-1"),
        connectionsPerInvocation: 2,
        handOff: async () => {
          throw new Error("AccessDenied");
        },
        onHandOffError: (error) => failures.push(error),
      },
      { kind: "message", topic: "room:crowd-2", data: 2, sender: null, excludeSelf: false },
    );
    expect(result.sent).toBe(5);
    expect(failures).toHaveLength(1);
    for (const client of clients)
      expect(await client.next((f) => f.type === "message")).toMatchObject({ data: 2 });
  });

  it("reports malformed queue messages as failures and still delivers the rest of the batch", async () => {
    const client = await h.connect();
    await client.request({ action: "subscribe", topic: "room:batch" });
    const { broadcastBatch } = await import("../../lib/realtime/broadcastBatch.ts");
    const { createManagementApi } = await import("../../lib/realtime/postFrame.ts");
    const deps = {
      table: { dynamo: h.dynamo, tableName: h.tableName },
      api: createManagementApi(h.gateway.managementEndpoint, "us-east-1"),
    };
    const message = (n: number) =>
      JSON.stringify({ kind: "message", topic: "room:batch", data: n, sender: null, excludeSelf: false });
    const { metrics } = await import("../../lib/metrics/registry.ts");
    const timedBefore = metrics.read("eventbus_fanout_duration_seconds") ?? 0;
    const failed = await broadcastBatch(
      deps,
      [
        { messageId: "a", body: message(1) },
        { messageId: "b", body: "not json" },
        { messageId: "c", body: JSON.stringify({ kind: "events" }) },
        { messageId: "d", body: message(2) },
      ],
      () => {},
    );
    expect(failed.sort()).toEqual(["b", "c"]);
    // Each delivered message is timed for the FanoutLatency metric; the malformed ones are not.
    expect(metrics.read("eventbus_fanout_duration_seconds")).toBe(timedBefore + 2);
    expect((await client.next((f) => f.type === "message")).data).toBe(1);
    expect((await client.next((f) => f.type === "message")).data).toBe(2);
  });
});
