import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PRESENCE_PROBE_INTERVAL_MS } from "../../lib/realtime/presenceProbe.ts";
import { MAX_PRESENCE_MEMBERS, MAX_PRESENCE_STATE_BYTES } from "../../lib/realtime/presenceTable.ts";
import { PresenceView } from "./presenceView.ts";
import { type RealtimeHarness, startRealtimeHarness, type TestClient } from "./support.ts";

let h: RealtimeHarness;
beforeAll(async () => {
  h = await startRealtimeHarness();
});
afterAll(() => h?.close());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A connected client, its connection id and a view of `topic`'s presence as it would show it. */
async function member(topic: string, token?: string) {
  const client = await h.connect(token);
  const { connectionId } = await client.request({ action: "ping" });
  return { client, id: connectionId as string, view: new PresenceView(client, topic) };
}

const enter = (client: TestClient, topic: string, state?: unknown, timeoutMs?: number) =>
  client.request({ action: "presence.enter", topic, ...(state === undefined ? {} : { state }) }, timeoutMs);

const presenceOf = async (topic: string, token?: string) =>
  h.api.request("GET", `/topics/${encodeURIComponent(topic)}/presence`, token ? { token } : {});

async function eventually(check: () => Promise<void> | void, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(50);
    }
  }
}

describe("presence", () => {
  it("syncs a new member, tells the others of joins, updates and leaves, and lists members over HTTP", async () => {
    const topic = "room:basic";
    const a = await member(topic);
    expect(await enter(a.client, topic, { name: "Ada" })).toMatchObject({ type: "ack" });
    const syncA = await a.client.next((f) => f.type === "presence.sync");
    expect(syncA).toEqual({
      type: "presence.sync",
      topic,
      members: [{ connectionId: a.id, subject: expect.any(String), state: { name: "Ada" }, seq: 1 }],
    });

    const b = await member(topic);
    await enter(b.client, topic, { name: "Bob" });
    const syncB = await b.client.next((f) => f.type === "presence.sync");
    expect(syncB.members.map((m: any) => [m.connectionId, m.state])).toEqual([
      [a.id, { name: "Ada" }],
      [b.id, { name: "Bob" }],
    ]);
    expect(await a.client.next((f) => f.type === "presence.join")).toEqual({
      type: "presence.join",
      topic,
      member: { connectionId: b.id, subject: expect.any(String), state: { name: "Bob" }, seq: 2 },
    });

    expect(
      await b.client.request({ action: "presence.update", topic, state: { name: "Bob", away: true } }),
    ).toMatchObject({
      type: "ack",
    });
    expect((await a.client.next((f) => f.type === "presence.update")).member).toMatchObject({
      connectionId: b.id,
      state: { name: "Bob", away: true },
      seq: 3,
    });

    const listed = await presenceOf(topic);
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({
      topic,
      members: [
        { connectionId: a.id, subject: expect.any(String), state: { name: "Ada" }, seq: 1 },
        { connectionId: b.id, subject: expect.any(String), state: { name: "Bob", away: true }, seq: 3 },
      ],
    });

    expect(await b.client.request({ action: "presence.leave", topic })).toMatchObject({ type: "ack" });
    expect((await a.client.next((f) => f.type === "presence.leave")).member).toMatchObject({
      connectionId: b.id,
      seq: 4,
    });
    expect((await presenceOf(topic)).body.members.map((m: any) => m.connectionId)).toEqual([a.id]);
    // The one who changed is not told of its own change.
    expect(
      b.client.frames.filter((f) => f.type?.startsWith("presence.") && f.type !== "presence.sync"),
    ).toEqual([]);
    // Leaving again changes nothing and tells nobody.
    expect(await b.client.request({ action: "presence.leave", topic })).toMatchObject({ type: "ack" });
  });

  it("shows the subject of each member's token, which its state cannot forge", async () => {
    const topic = "room:subjects";
    const a = await member(topic, await h.token("realtime:subscribe", undefined, { subject: "user-ada" }));
    await enter(a.client, topic, { subject: "someone-else" });
    expect((await presenceOf(topic)).body.members).toEqual([
      { connectionId: a.id, subject: "user-ada", state: { subject: "someone-else" }, seq: 1 },
    ]);
  });

  it("entering again replaces the state, sends a fresh sync and tells the others it is an update", async () => {
    const topic = "room:reenter";
    const a = await member(topic);
    const b = await member(topic);
    await enter(a.client, topic, { v: 1 });
    await enter(b.client, topic, { v: 1 });
    await a.client.next((f) => f.type === "presence.join");
    await enter(b.client, topic, { v: 2 });
    expect((await a.client.next((f) => f.type === "presence.update")).member.state).toEqual({ v: 2 });
    await b.client.next((f) => f.type === "presence.sync");
    expect((await b.client.next((f) => f.type === "presence.sync")).members).toHaveLength(2);
  });

  it("removes a member that disconnects and tells the others", async () => {
    const topic = "room:disconnect";
    const a = await member(topic);
    const b = await member(topic);
    await enter(a.client, topic);
    await enter(b.client, topic);
    await a.client.next((f) => f.type === "presence.join");
    b.client.socket.terminate(); // abruptly, without a close handshake
    expect((await a.client.next((f) => f.type === "presence.leave")).member.connectionId).toBe(b.id);
    expect((await presenceOf(topic)).body.members.map((m: any) => m.connectionId)).toEqual([a.id]);
  });

  it("removes a stale member (its $disconnect was lost) when a post to it answers 410 Gone", async () => {
    const topic = "room:stale";
    const a = await member(topic);
    const ghost = await member(topic);
    await enter(a.client, topic);
    await enter(ghost.client, topic);
    h.gateway.dropWithoutDisconnect(ghost.id);
    const c = await member(topic);
    await enter(c.client, topic);
    // The sync C got may still list the ghost, but C's join, posted to it, answered 410: everyone is told.
    await eventually(() => {
      expect(a.view.ids()).toEqual([a.id, c.id].sort());
      expect(c.view.ids()).toEqual([a.id, c.id].sort());
    });
    expect((await presenceOf(topic)).body.members.map((m: any) => m.connectionId).sort()).toEqual(
      [a.id, c.id].sort(),
    );
  });

  it("drops a member whose connection vanished without $disconnect when the list is read, and tells the others", async () => {
    const topic = "room:vanished";
    const a = await member(topic);
    const ghost = await member(topic);
    await enter(a.client, topic);
    await enter(ghost.client, topic);
    await eventually(() => expect(a.view.ids()).toEqual([a.id, ghost.id].sort()));
    // The socket goes and API Gateway never runs $disconnect; nothing is posted to the topic.
    h.gateway.dropWithoutDisconnect(ghost.id);
    expect((await presenceOf(topic)).body.members.map((m: any) => m.connectionId)).toEqual([a.id]);
    await eventually(() => expect(a.view.ids()).toEqual([a.id]));
    // Gone for good, not only hidden from that read.
    await sleep(PRESENCE_PROBE_INTERVAL_MS);
    expect((await presenceOf(topic)).body.members.map((m: any) => m.connectionId)).toEqual([a.id]);
  });

  it("ends with the exact member list everywhere when 66 clients enter, update, leave and drop at once", async () => {
    const topic = "room:storm";
    const clients = await Promise.all(Array.from({ length: 66 }, () => member(topic)));
    const started = Date.now();
    // 50 enter at once.
    const first = clients.slice(0, 50);
    const acks = await Promise.all(first.map((c, i) => enter(c.client, topic, { n: i }, 30_000)));
    expect(acks.filter((ack) => ack.type !== "ack")).toEqual([]);
    const entered = Date.now() - started;
    console.log(`presence storm: 50 enters acknowledged in ${entered} ms`);
    // Then, all at once: 10 leave, 10 disconnect abruptly, 10 update, and the last 10 enter.
    const leaving = first.slice(0, 10);
    const dropping = first.slice(10, 20);
    const updating = first.slice(20, 30);
    const late = clients.slice(50, 60);
    // These enter and drop at the same moment: whatever their enter got done, it must leave no trace.
    const fleeting = clients.slice(60);
    await Promise.all([
      ...leaving.map((c) => c.client.request({ action: "presence.leave", topic }, 30_000)),
      ...dropping.map(async (c) => c.client.socket.terminate()),
      ...updating.map((c, i) =>
        c.client.request({ action: "presence.update", topic, state: { n: i, v: 2 } }, 30_000),
      ),
      ...late.map((c, i) => enter(c.client, topic, { n: 50 + i }, 30_000)),
      ...fleeting.map(async (c, i) => {
        c.client.send({ action: "presence.enter", topic, state: { fleeting: i } });
        await sleep(i * 15);
        c.client.socket.terminate();
      }),
    ]);
    const present = [...first.slice(20), ...late];
    const expected = present.map((c) => c.id).sort();
    await eventually(async () => {
      const listed = await presenceOf(topic);
      expect(listed.body.members.map((m: any) => m.connectionId).sort()).toEqual(expected);
      expect(listed.body.members.find((m: any) => m.connectionId === updating[0]!.id).state).toEqual({
        n: 0,
        v: 2,
      });
      for (const c of present) {
        expect(c.view.ids(), c.id).toEqual(expected);
        // (A member is not told of its own change; it knows what it sent.)
        for (const [i, u] of updating.entries()) {
          if (u !== c) expect(c.view.stateOf(u.id)).toEqual({ n: i, v: 2 });
        }
        expect(c.view.stateOf(late[0]!.id)).toEqual({ n: 50 });
      }
    }, 30_000);
    const settled = Date.now() - started;
    console.log(
      `presence storm: 50 enters acknowledged in ${entered} ms; 66 changes settled in ${settled} ms`,
    );
  }, 120_000);
});

describe("presence and token expiry", () => {
  const inSeconds = (seconds: number) => Math.floor(Date.now() / 1000) + seconds;
  /** Long enough to connect and enter on a busy machine, short enough to wait for. */
  const SHORT = 8;

  it("lists a member until its token expires, and past that once an auth frame brought a fresh one", async () => {
    const topic = "room:tokens";
    const exp = inSeconds(SHORT);
    const fading = await member(topic, await h.token("realtime:subscribe", undefined, { expiresIn: exp }));
    const renewed = await member(topic, await h.token("realtime:subscribe", undefined, { expiresIn: exp }));
    await enter(fading.client, topic);
    await enter(renewed.client, topic);
    const fresh = await h.token("realtime:subscribe", undefined, { expiresIn: "1h" });
    expect(await renewed.client.request({ action: "auth", token: fresh })).toMatchObject({ type: "ack" });
    expect((await presenceOf(topic)).body.members).toHaveLength(2);
    await sleep(Math.max(0, exp * 1000 - Date.now() + 100));
    expect((await presenceOf(topic)).body.members.map((m: any) => m.connectionId)).toEqual([renewed.id]);
  });

  it("refuses a fresh token whose bound no longer covers a topic the connection is present on", async () => {
    const client = await h.connect(await h.token("realtime:subscribe", ["team-*"]));
    await enter(client, "team-b");
    const refused = await client.request({
      action: "auth",
      token: await h.token("realtime:subscribe", ["other-*"]),
    });
    expect(refused).toMatchObject({ type: "error", code: "FORBIDDEN" });
    expect(refused.message).toContain("team-b");
  });
});

describe("presence limits and refusals", () => {
  it("refuses a state above the size limit, event topics, wildcards and updates before entering", async () => {
    const { client } = await member("room:limits");
    const big = { text: "x".repeat(MAX_PRESENCE_STATE_BYTES) };
    const tooBig = await enter(client, "room:limits", big);
    expect(tooBig).toMatchObject({ type: "error", code: "PAYLOAD_TOO_LARGE" });
    expect(tooBig.message).toContain(`at most ${MAX_PRESENCE_STATE_BYTES} bytes`);
    for (const topic of ["stream:orders-1", "category:orders", "$all", "room:lobby.*"]) {
      const refused = await enter(client, topic);
      expect(refused, topic).toMatchObject({ type: "error", code: "VALIDATION_FAILED" });
      expect(refused.message).toContain("ephemeral topics");
    }
    expect(await enter(client, "room:limits", "not an object")).toMatchObject({
      type: "error",
      code: "VALIDATION_FAILED",
    });
    const notPresent = await client.request({ action: "presence.update", topic: "room:limits", state: {} });
    expect(notPresent).toMatchObject({ type: "error", code: "VALIDATION_FAILED" });
    expect(notPresent.message).toContain("presence.enter first");
    expect((await presenceOf("room:limits")).body.members).toEqual([]);
  });

  it("bounds presence by the token's scope and streams globs, over WebSocket and HTTP", async () => {
    const token = await h.token("realtime:subscribe", ["team-*"]);
    const { client } = await member("team-a", token);
    expect(await enter(client, "team-a")).toMatchObject({ type: "ack" });
    expect(await enter(client, "other-room")).toMatchObject({ type: "error", code: "FORBIDDEN" });
    expect((await presenceOf("team-a", token)).status).toBe(200);
    expect((await presenceOf("other-room", token)).body).toMatchObject({ status: 403, code: "FORBIDDEN" });
    const publisher = await h.token("realtime:publish");
    expect((await presenceOf("team-a", publisher)).body).toMatchObject({ status: 403, code: "FORBIDDEN" });
    expect((await presenceOf("stream:x-1")).body).toMatchObject({ status: 400, code: "VALIDATION_FAILED" });
  });

  it(`refuses the ${MAX_PRESENCE_MEMBERS + 1}th member, and makes room when members' items have expired`, async () => {
    const topic = "room:full";
    const future = Math.floor(Date.now() / 1000) + 3600;
    // Live connections hold the places: a full room asks API Gateway about its members before refusing.
    const holders = await Promise.all(
      Array.from({ length: MAX_PRESENCE_MEMBERS }, async () => {
        const client = await h.connect();
        return { client, id: (await client.request({ action: "ping" })).connectionId as string };
      }),
    );
    const members = Object.fromEntries(holders.map((holder) => [holder.id, future]));
    await h.dynamo.send(
      new PutCommand({
        TableName: h.tableName,
        Item: { pk: `pdir#${topic}`, sk: "pdir", members, seq: MAX_PRESENCE_MEMBERS, expiresAt: future },
      }),
    );
    const { client, id } = await member(topic);
    const full = await enter(client, topic);
    expect(full).toMatchObject({ type: "error", code: "VALIDATION_FAILED" });
    expect(full.message).toContain(`${MAX_PRESENCE_MEMBERS} members present, the limit`);

    // One holder's socket vanishes without $disconnect: once the topic may be probed again, its place is
    // freed rather than held until its TTL.
    h.gateway.dropWithoutDisconnect(holders[0]!.id);
    await sleep(PRESENCE_PROBE_INTERVAL_MS);
    expect(await enter(client, topic)).toMatchObject({ type: "ack" });
    expect(await enter((await member(topic)).client, topic)).toMatchObject({
      type: "error",
      code: "VALIDATION_FAILED",
    });
    expect(await client.request({ action: "presence.leave", topic })).toMatchObject({ type: "ack" });

    // The same members, all past their TTL (their connections ended without anyone noticing).
    const past = Math.floor(Date.now() / 1000) - 1;
    const expired = Object.fromEntries(Object.keys(members).map((key) => [key, past]));
    await h.dynamo.send(
      new PutCommand({
        TableName: h.tableName,
        Item: { pk: `pdir#${topic}`, sk: "pdir", members: expired, seq: 200, expiresAt: future },
      }),
    );
    expect(await enter(client, topic)).toMatchObject({ type: "ack" });
    expect((await presenceOf(topic)).body.members.map((m: any) => m.connectionId)).toEqual([id]);
  });
});
