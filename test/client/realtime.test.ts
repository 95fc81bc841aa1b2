import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadLocalWsRoutes } from "../../functions/ws/localRoutes.ts";
import {
  type CloudEvent,
  ConnectionGoneError,
  type ConnectionState,
  createClient,
  ForbiddenError,
} from "../../lib/client/index.ts";
import { type RunningWsGateway, startWsGateway } from "../../lib/local/wsGateway.ts";
import { type RealtimeHarness, startRealtimeHarness } from "../realtime/support.ts";

/*
 * The SDK's realtime client against the real local bus (WebSocket gateway stand-in with the real route
 * handlers, the listener, the broadcaster, DynamoDB and SQS stand-ins, Postgres), while the gateway is
 * stopped and restarted on the same port and sockets are dropped abruptly under it.
 */

let h: RealtimeHarness;
/** The gateway serving clients right now: the harness's first, then each restarted one. */
let gateway: RunningWsGateway;
let port: number;

beforeAll(async () => {
  h = await startRealtimeHarness();
  gateway = h.gateway;
  port = Number(new URL(h.gateway.url).port);
});
afterAll(async () => {
  if (gateway !== h?.gateway) await gateway.stop();
  await h?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Stops the WebSocket gateway (clients see 1001), leaves it down a moment, and starts it on the same port. */
async function restartGateway(downMs: number): Promise<void> {
  await gateway.stop();
  await sleep(downMs);
  gateway = await startWsGateway({ routes: await loadLocalWsRoutes(), port });
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function newClient(token?: string | (() => Promise<string>)) {
  return createClient({
    url: h.api.baseUrl,
    wsUrl: h.gateway.url,
    token: token ?? (() => h.token("admin")),
    realtime: { initialDelayMs: 50, maxDelayMs: 400, pingIntervalMs: 1000, pongTimeoutMs: 2000 },
  });
}

describe("realtime client across gateway restarts and dropped sockets", () => {
  it("hands every event to the handler exactly once, in order", async () => {
    const client = newClient();
    const states: ConnectionState[] = [];
    client.realtime.on("state", (state) => states.push(state));
    const errors: string[] = [];
    client.realtime.on("error", (error) => errors.push(error.message));
    const category: bigint[] = [];
    const stream: bigint[] = [];
    const seen = new Set<string>();
    const first = await h.api.request("POST", "/streams/chaos-0/events", { body: { type: "Start" } });
    const from = first.body.events[0].position;

    await client.subscribe("category:chaos", { from }, (event: CloudEvent) => {
      category.push(BigInt(event.position));
      seen.add(event.id);
    });
    await client.subscribe("stream:chaos-1", {}, (event: CloudEvent) => {
      stream.push(BigInt(event.position));
    });

    // Append steadily while the connection is taken away six times, three ways each twice.
    const appended: bigint[] = [BigInt(from)];
    const appendedToStream1: bigint[] = [];
    let appending = true;
    const appender = (async () => {
      for (let i = 0; appending || i < 60; i++) {
        const streamId = `chaos-${i % 3}`;
        const response = await h.api.request("POST", `/streams/${streamId}/events`, {
          body: [
            { type: "Tick", data: { i, n: 0 } },
            { type: "Tick", data: { i, n: 1 } },
          ],
        });
        expect(response.status).toBe(201);
        const positions = response.body.events.map((e: { position: number | string }) => BigInt(e.position));
        appended.push(...positions);
        if (streamId === "chaos-1") appendedToStream1.push(...positions);
        await sleep(15);
      }
    })();

    const opens = () => states.filter((s) => s === "open").length;
    for (let round = 0; round < 2; round++) {
      await sleep(300);
      // 1. The gateway goes away (close 1001) and stays down while appends go on.
      let before = opens();
      await restartGateway(400);
      await waitFor(() => opens() > before, 10_000, "a reconnect after a gateway restart");
      await sleep(300);
      // 2. The socket is cut without a close frame and without $disconnect (a network drop).
      before = opens();
      for (const id of gateway.connectionIds()) gateway.dropWithoutDisconnect(id);
      await waitFor(() => opens() > before, 10_000, "a reconnect after a dropped socket");
      await sleep(300);
      // 3. The gateway restarts immediately (a deploy), with appends racing the resubscription.
      before = opens();
      await restartGateway(0);
      await waitFor(() => opens() > before, 10_000, "a reconnect after a quick restart");
    }
    appending = false;
    await appender;

    await waitFor(
      () => category.length >= appended.length,
      20_000,
      `${appended.length} events on category:chaos`,
    );
    await sleep(500); // anything extra (a duplicate) would arrive now
    expect(category).toEqual([...appended].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(seen.size).toBe(appended.length);
    // The live-only subscription resumed from its last delivered event too: no gap after its first event.
    const firstSeen = appendedToStream1.indexOf(stream[0] ?? -1n);
    expect(firstSeen).toBeGreaterThanOrEqual(0);
    await waitFor(
      () => stream.length >= appendedToStream1.length - firstSeen,
      10_000,
      "stream:chaos-1 events",
    );
    expect(stream).toEqual(appendedToStream1.slice(firstSeen));
    expect(states.filter((s) => s === "reconnecting").length).toBeGreaterThanOrEqual(6);
    expect(states[0]).toBe("connecting");
    // While the gateway was down, each failed attempt was reported, and nothing else went wrong.
    expect(errors.length).toBeGreaterThan(0);
    for (const message of errors)
      expect(message).toMatch(/^NETWORK: Could not connect to ws:\/\/.* \(attempt \d+\)\.$/);
    client.close();
    expect(client.realtime.state).toBe("closed");
  }, 90_000);
});

describe("resuming far behind", () => {
  it("reads a gap of more than 10,000 events over HTTP, then resumes live, each event once", async () => {
    const client = newClient();
    const positions: bigint[] = [];
    const first = await h.api.request("POST", "/streams/far-1/events", { body: { type: "First" } });
    await client.subscribe("category:far", { from: first.body.events[0].position }, (event: CloudEvent) => {
      positions.push(BigInt(event.position));
    });
    await waitFor(() => positions.length === 1, 5000, "the first event");

    // The gateway goes down while 11,000 events are appended: more than the WebSocket replay takes.
    await gateway.stop();
    for (let batch = 0; batch < 11; batch++) {
      const body = Array.from({ length: 1000 }, (_, i) => ({ type: "Bulk", data: { i: batch * 1000 + i } }));
      expect((await h.api.request("POST", "/streams/far-1/events", { body })).status).toBe(201);
    }
    gateway = await startWsGateway({ routes: await loadLocalWsRoutes(), port });
    await waitFor(() => positions.length === 11_001, 60_000, "11,001 events");
    const live = await h.api.request("POST", "/streams/far-2/events", { body: { type: "Live" } });
    await waitFor(() => positions.length === 11_002, 10_000, "the live event after the catch-up");
    expect(positions.at(-1)).toBe(BigInt(live.body.events[0].position));
    expect(new Set(positions).size).toBe(positions.length);
    expect(positions).toEqual([...positions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    client.close();
  }, 120_000);
});

describe("subscribing far back", () => {
  it("subscribes from more than 10,000 events back: the history over HTTP, then live, each event once, in order", async () => {
    const client = newClient();
    const appended: bigint[] = [];
    for (let batch = 0; batch < 11; batch++) {
      const body = Array.from({ length: 1000 }, (_, i) => ({ type: "Bulk", data: { i: batch * 1000 + i } }));
      const response = await h.api.request("POST", `/streams/deep-${batch % 2}/events`, { body });
      expect(response.status).toBe(201);
      appended.push(...response.body.events.map((e: { position: number | string }) => BigInt(e.position)));
    }
    const positions: bigint[] = [];
    // The WebSocket replay alone refuses this `from` (VALIDATION_FAILED); the subscription still succeeds.
    await client.subscribe("category:deep", { from: appended[0]! }, (event: CloudEvent) => {
      positions.push(BigInt(event.position));
    });
    const live = await h.api.request("POST", "/streams/deep-9/events", { body: { type: "Live" } });
    appended.push(BigInt(live.body.events[0].position));
    await waitFor(() => positions.length >= appended.length, 30_000, `${appended.length} events`);
    await sleep(300); // a duplicate would arrive now
    expect(positions).toEqual(appended);
    client.close();
  }, 120_000);

  it("still refuses a bad filter on a subscription with `from`", async () => {
    const client = newClient();
    await expect(
      client.subscribe("category:deep", { from: 1, filter: { type: "not-a-list" } }, () => {}),
    ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    client.close();
  });
});

describe("a live-only subscription across a disconnect", () => {
  it("gets the events appended while it was disconnected, once each, before any was delivered live", async () => {
    const client = newClient();
    const states: ConnectionState[] = [];
    client.realtime.on("state", (state) => states.push(state));
    const positions: bigint[] = [];
    await client.subscribe("stream:gap-1", {}, (event: CloudEvent) => {
      positions.push(BigInt(event.position));
    });
    const opens = () => states.filter((s) => s === "open").length;
    const before = opens();
    await gateway.stop();
    const during = await h.api.request("POST", "/streams/gap-1/events", {
      body: [{ type: "While" }, { type: "Down" }],
    });
    // Long enough for the fan-out to have passed these events by: only a resume can bring them now.
    await sleep(2000);
    gateway = await startWsGateway({ routes: await loadLocalWsRoutes(), port });
    await waitFor(() => opens() > before, 10_000, "a reconnect");
    const after = await h.api.request("POST", "/streams/gap-1/events", { body: { type: "After" } });
    const expected = [...during.body.events, ...after.body.events].map((e: { position: number | string }) =>
      BigInt(e.position),
    );
    await waitFor(() => positions.length >= expected.length, 10_000, `${expected.length} events`);
    await sleep(300);
    expect(positions).toEqual(expected);
    client.close();
  }, 60_000);
});

describe("token refresh", () => {
  it("keeps one connection open past several short-lived tokens by refreshing them through the callback", async () => {
    let minted = 0;
    const client = newClient(async () => {
      minted++;
      return h.token("admin", undefined, { expiresIn: "3s" });
    });
    const states: ConnectionState[] = [];
    client.realtime.on("state", (state) => states.push(state));
    const errors: Error[] = [];
    client.realtime.on("error", (error) => errors.push(error));
    const received: string[] = [];
    await client.subscribe("stream:refresh-1", {}, (event: CloudEvent) => {
      received.push(String(event.position));
    });
    const connectionId = await client.realtime.ping();

    const appended: string[] = [];
    const until = Date.now() + 8000; // well past two token lifetimes
    while (Date.now() < until) {
      const response = await h.api.request("POST", "/streams/refresh-1/events", { body: { type: "Tick" } });
      appended.push(String(response.body.events[0].position));
      await sleep(250);
    }
    await waitFor(() => received.length >= appended.length, 5000, "every event");
    expect(received).toEqual(appended);
    expect(minted).toBeGreaterThanOrEqual(3);
    expect(errors).toEqual([]);
    // Same connection throughout: never dropped, never reconnected.
    expect(states).toEqual(["connecting", "open"]);
    expect(await client.realtime.ping()).toBe(connectionId);
    client.close();
  }, 30_000);
});

describe("message topics and errors", () => {
  it("re-subscribes a message topic after a reconnect", async () => {
    const client = newClient();
    const messages: unknown[] = [];
    await client.subscribe("room:lobby", {}, (message) => {
      messages.push(message.data);
    });
    await client.publish("room:lobby", { n: 1 });
    await waitFor(() => messages.length === 1, 5000, "the first message");

    let opened = false;
    client.realtime.on("state", (state) => {
      if (state === "open") opened = true;
    });
    for (const id of gateway.connectionIds()) gateway.dropWithoutDisconnect(id);
    await waitFor(() => opened, 10_000, "the reconnect");
    await client.realtime.ping(); // the resubscription was sent before this frame
    await client.publish("room:lobby", { n: 2 });
    await waitFor(() => messages.length === 2, 5000, "the second message");
    expect(messages).toEqual([{ n: 1 }, { n: 2 }]);
    client.close();
  });

  it("delivers messages of the topics a wildcard covers to its handler, with their own topic", async () => {
    const client = newClient();
    const messages: Array<{ topic?: string; data: unknown }> = [];
    await client.subscribe("room:hall.*", {}, (message) => {
      messages.push({ topic: message.topic, data: message.data });
    });
    await client.publish("room:hall.a", { n: 1 });
    await client.publish("room:hall.b", { n: 2 });
    await waitFor(() => messages.length === 2, 5000, "two messages");
    expect(messages).toEqual([
      { topic: "room:hall.a", data: { n: 1 } },
      { topic: "room:hall.b", data: { n: 2 } },
    ]);
    client.close();
  });

  it("rejects a subscription the token does not allow with a typed error", async () => {
    const client = newClient(await h.token("realtime:subscribe events:read", ["orders-*"]));
    const refused = await client.subscribe("stream:billing-1", {}, () => {}).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ForbiddenError);
    expect(refused).toMatchObject({ code: "FORBIDDEN" });
    // The connection stays usable.
    await expect(client.subscribe("stream:orders-1", {}, () => {})).resolves.toBeTypeOf("function");
    client.close();
  });

  it("sends to a connection that has gone: ConnectionGoneError (410)", async () => {
    const client = newClient();
    const connectionId = await client.realtime.ping();
    client.close();
    await waitFor(() => !gateway.connectionIds().includes(connectionId), 5000, "the connection to close");
    const gone = await client.sendToConnection(connectionId, { hello: 1 }).catch((error: unknown) => error);
    expect(gone).toBeInstanceOf(ConnectionGoneError);
    expect(gone).toMatchObject({ code: "CONNECTION_GONE", status: 410, connectionId });
  });
});

describe("presence", () => {
  const names = (members: Array<{ state: { name?: unknown } }>) =>
    members.map((m) => String(m.state.name)).sort();

  it("keeps each member's list exact through updates, a gateway restart and a leave", async () => {
    const ada = newClient();
    const bob = newClient();
    let adaSees: string[] = [];
    let bobSees: string[] = [];
    const adaPresence = await ada.realtime.enterPresence("room:sdk-presence", { name: "ada" }, (members) => {
      adaSees = names(members);
    });
    const bobPresence = await bob.realtime.enterPresence("room:sdk-presence", { name: "bob" }, (members) => {
      bobSees = names(members);
    });
    await waitFor(() => adaSees.join() === "ada,bob" && bobSees.join() === "ada,bob", 5000, "both present");

    await bobPresence.update({ name: "bobby" });
    await waitFor(() => adaSees.join() === "ada,bobby", 5000, "ada to see bob's new state");
    // Entering twice is refused by the client; the server's answers are typed errors.
    await expect(ada.realtime.enterPresence("room:sdk-presence", { name: "again" })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
    await expect(ada.realtime.enterPresence("stream:orders-1", { name: "x" })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });

    // Both connections go away and come back: each enters again with its latest state.
    await restartGateway(200);
    await waitFor(
      () => adaSees.join() === "ada,bobby" && bobSees.join() === "ada,bobby",
      15_000,
      "both present again after the restart",
    );
    expect(adaPresence.members().map((m) => m.state.name)).toHaveLength(2);

    await adaPresence.leave();
    await waitFor(() => bobSees.join() === "bobby", 5000, "bob to see ada leave");
    expect((await bob.presence("room:sdk-presence")).members.map((m) => m.state.name)).toEqual(["bobby"]);
    ada.close();
    bob.close();
  }, 40_000);
});
