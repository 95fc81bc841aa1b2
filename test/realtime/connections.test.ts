import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RealtimeHarness, startRealtimeHarness, TestClient } from "./support.ts";

let h: RealtimeHarness;
beforeAll(async () => {
  h = await startRealtimeHarness();
});
afterAll(() => h?.close());

async function eventually<T>(
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("connecting", () => {
  it("refuses the handshake without a valid token (401) or without a realtime scope (403)", async () => {
    await expect(TestClient.connect(h.gateway.url, null)).rejects.toMatchObject({ status: 401 });
    await expect(TestClient.connect(h.gateway.url, "not-a-jwt")).rejects.toMatchObject({ status: 401 });
    await expect(TestClient.connect(h.gateway.url, await h.token("events:read"))).rejects.toMatchObject({
      status: 403,
    });
    const client = await h.connect(await h.token("realtime:subscribe"));
    expect(await client.request({ action: "ping", id: 7 })).toMatchObject({ type: "pong", id: 7 });
  });
});

describe("malformed frames", () => {
  it("answers each with an error frame and keeps the connection open", async () => {
    const client = await h.connect();
    client.send("not json");
    expect(await client.next()).toMatchObject({ type: "error", code: "VALIDATION_FAILED" });
    client.send({ id: "a", hello: 1 });
    expect(await client.next()).toMatchObject({ type: "error", id: "a", code: "VALIDATION_FAILED" });
    client.send({ action: "dance", id: "b" });
    expect(await client.next()).toMatchObject({ type: "error", id: "b", code: "ROUTE_NOT_FOUND" });
    expect(await client.request({ action: "subscribe", id: "c" })).toMatchObject({
      type: "error",
      id: "c",
      code: "VALIDATION_FAILED",
    });
    expect(await client.request({ action: "subscribe", topic: "bad#topic" })).toMatchObject({
      code: "VALIDATION_FAILED",
    });
    expect(await client.request({ action: "subscribe", topic: "stream:-bad" })).toMatchObject({
      code: "VALIDATION_FAILED",
    });
    expect(await client.request({ action: "subscribe", topic: "room:1", from: 3 })).toMatchObject({
      code: "VALIDATION_FAILED",
    });
    expect(await client.request({ action: "publish", topic: "room:1" })).toMatchObject({
      code: "VALIDATION_FAILED",
    });
    expect(await client.request({ action: "ping", extra: true })).toMatchObject({
      code: "VALIDATION_FAILED",
    });
    expect(await client.request({ action: "ping", id: "still-open" })).toMatchObject({
      type: "pong",
      id: "still-open",
    });
    expect(client.closed).toBeUndefined();
  });

  it("closes a connection whose message exceeds API Gateway's 128 KB (1009)", async () => {
    const client = await h.connect();
    client.send({ action: "publish", topic: "room:big", data: "x".repeat(129 * 1024) });
    expect((await client.waitClosed()).code).toBe(1009);
  });
});

describe("connection tracking", () => {
  it("removes the connection and its memberships on disconnect", async () => {
    const client = await h.connect();
    const { connectionId } = await client.request({ action: "ping" });
    for (const topic of ["room:a", "room:b", "$all"]) await client.request({ action: "subscribe", topic });
    const stored = await h.itemsUnder(`conn#${connectionId}`);
    expect(stored.map((item) => item.sk).sort()).toEqual([
      "meta",
      "topic#$all",
      "topic#room:a",
      "topic#room:b",
    ]);
    expect(stored.every((item) => typeof item.expiresAt === "number")).toBe(true);

    client.close();
    const left = await eventually(
      () => h.itemsUnder(`conn#${connectionId}`),
      (items) => items.length === 0,
    );
    expect(left).toEqual([]);
    const response = await h.api.request("POST", "/topics/room:a/messages", { body: { data: 1 } });
    expect(response.status).toBe(202);
  });

  it("prunes a client that vanished without $disconnect on the next send, and only that one", async () => {
    const [ghost, alive] = await Promise.all([h.connect(), h.connect()]);
    const { connectionId: ghostId } = await ghost.request({ action: "ping" });
    for (const client of [ghost, alive]) await client.request({ action: "subscribe", topic: "room:ghosts" });
    h.gateway.dropWithoutDisconnect(ghostId);
    expect(await h.itemsUnder(`conn#${ghostId}`)).toHaveLength(2);

    await alive.request({ action: "publish", topic: "room:ghosts", data: "boo" });
    expect(await alive.next((f) => f.type === "message")).toMatchObject({ data: "boo" });
    const left = await eventually(
      () => h.itemsUnder(`conn#${ghostId}`),
      (items) => items.length === 0,
    );
    expect(left).toEqual([]);
    // The sender, whose publish found the stale connection, is untouched.
    expect(await alive.request({ action: "publish", topic: "room:ghosts", data: "again" })).toMatchObject({
      type: "ack",
    });
    expect(await alive.next((f) => f.type === "message")).toMatchObject({ data: "again" });
  });
});

describe("@connections management API", () => {
  it("works with the real SDK client: get, post, delete, and GoneException for unknown connections", async () => {
    const {
      ApiGatewayManagementApiClient,
      DeleteConnectionCommand,
      GetConnectionCommand,
      GoneException,
      PostToConnectionCommand,
    } = await import("@aws-sdk/client-apigatewaymanagementapi");
    const api = new ApiGatewayManagementApiClient({
      endpoint: h.gateway.managementEndpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    const client = await h.connect();
    const { connectionId } = await client.request({ action: "ping" });

    const info = await api.send(new GetConnectionCommand({ ConnectionId: connectionId }));
    expect(info.ConnectedAt).toBeInstanceOf(Date);
    expect(info.Identity?.SourceIp).toBeTruthy();

    await api.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: '{"hello":1}' }));
    expect(await client.next((f) => f.hello === 1)).toEqual({ hello: 1 });

    await api.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    await client.waitClosed();
    // Deleting a connection runs $disconnect, as on AWS.
    expect(
      await eventually(
        () => h.itemsUnder(`conn#${connectionId}`),
        (items) => items.length === 0,
      ),
    ).toEqual([]);

    const error = await api
      .send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: "{}" }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GoneException);
    expect((error as InstanceType<typeof GoneException>).$metadata.httpStatusCode).toBe(410);
    api.destroy();
  });
});
