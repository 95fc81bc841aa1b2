import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RealtimeHarness, startRealtimeHarness } from "./support.ts";

let h: RealtimeHarness;
beforeAll(async () => {
  h = await startRealtimeHarness();
});
afterAll(() => h?.close());

const inSeconds = (seconds: number) => Math.floor(Date.now() / 1000) + seconds;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Waits until the epoch second `exp` has passed. */
const pastExpiry = (exp: number) => sleep(Math.max(0, exp * 1000 - Date.now() + 100));
/** Long enough to connect and subscribe on a busy machine, short enough to wait for. */
const SHORT = 4;
const expiredFrame = { type: "error", code: "UNAUTHORIZED", message: expect.stringContaining("expired") };

describe("token expiry on a connection", () => {
  it("refuses a handshake with a token that carries no exp", async () => {
    const { SignJWT } = await import("jose");
    const { TEST_JWT_SECRET } = await import("../support/httpApi.ts");
    const noExp = await new SignJWT({ scope: "admin" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("eventbus")
      .setIssuedAt()
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    const { TestClient } = await import("./support.ts");
    await expect(TestClient.connect(h.gateway.url, noExp)).rejects.toMatchObject({ status: 401 });
  });

  it("closes the connection at the first frame after its token expired, with an error frame first", async () => {
    const exp = inSeconds(SHORT);
    const client = await h.connect(await h.token("realtime:subscribe", undefined, { expiresIn: exp }));
    expect(await client.request({ action: "ping", id: "early" })).toMatchObject({ type: "pong" });
    await pastExpiry(exp);
    client.send({ action: "ping", id: "late" });
    expect(await client.next()).toEqual({ ...expiredFrame, id: "late" });
    expect(await client.waitClosed()).toMatchObject({ code: 1000 });
  });

  it("closes an expired subscriber when a message comes for it, and still delivers to the others", async () => {
    const exp = inSeconds(SHORT);
    const expiring = await h.connect(await h.token("realtime:subscribe", undefined, { expiresIn: exp }));
    const other = await h.connect();
    for (const client of [expiring, other]) {
      expect(await client.request({ action: "subscribe", topic: "room:expiry" })).toMatchObject({
        type: "ack",
      });
    }
    const { connectionId } = await expiring.request({ action: "ping" });
    await pastExpiry(exp);
    await h.api.request("POST", "/topics/room:expiry/messages", { body: { data: "after" } });
    expect((await other.next((f) => f.type === "message", 15_000)).data).toBe("after");
    expect(await expiring.next(() => true, 15_000)).toMatchObject(expiredFrame);
    expect((await expiring.waitClosed(15_000)).code).toBe(1000);
    expect(expiring.frames.filter((f) => f.type === "message")).toEqual([]);
    expect(await h.itemsUnder(`conn#${connectionId}`)).toEqual([]);
  });

  it("keeps the connection open past the old expiry once an auth frame brought a fresh token", async () => {
    const exp = inSeconds(SHORT);
    const client = await h.connect(await h.token("realtime:subscribe", undefined, { expiresIn: exp }));
    await client.request({ action: "subscribe", topic: "room:fresh" });
    const fresh = await h.token("realtime:subscribe", undefined, { expiresIn: "1h" });
    expect(await client.request({ action: "auth", token: fresh })).toMatchObject({ type: "ack" });
    await pastExpiry(exp);
    expect(await client.request({ action: "ping" })).toMatchObject({ type: "pong" });
    await h.api.request("POST", "/topics/room:fresh/messages", { body: { data: "still here" } });
    expect((await client.next((f) => f.type === "message")).data).toBe("still here");
    expect(client.closed).toBeUndefined();
  });

  it("refuses a fresh token that would widen or change the connection, and keeps the old one", async () => {
    const client = await h.connect(await h.token("realtime:subscribe events:read", ["acme-*"]));
    expect(await client.request({ action: "subscribe", topic: "stream:acme-1" })).toMatchObject({
      type: "ack",
    });
    // Another subject.
    expect(
      await client.request({
        action: "auth",
        token: await h.token("admin", undefined, { subject: "somebody-else" }),
      }),
    ).toMatchObject({ type: "error", code: "FORBIDDEN" });
    // A bound that no longer covers a subscribed topic.
    expect(
      await client.request({
        action: "auth",
        token: await h.token("realtime:subscribe events:read", ["other-*"]),
      }),
    ).toMatchObject({ type: "error", code: "FORBIDDEN", message: expect.stringContaining("stream:acme-1") });
    // Not a token at all, or one without exp.
    expect(await client.request({ action: "auth", token: "nope" })).toMatchObject({
      type: "error",
      code: "UNAUTHORIZED",
    });
    // The connection kept its old token: still bounded to acme-*.
    expect(await client.request({ action: "subscribe", topic: "stream:other-1" })).toMatchObject({
      code: "FORBIDDEN",
    });
    // A narrower token that still covers the subscriptions is taken, and its bound applies from then on.
    expect(
      await client.request({
        action: "auth",
        token: await h.token("realtime:subscribe events:read", ["acme-1"]),
      }),
    ).toMatchObject({ type: "ack" });
    expect(await client.request({ action: "subscribe", topic: "stream:acme-2" })).toMatchObject({
      code: "FORBIDDEN",
    });
  });
});
