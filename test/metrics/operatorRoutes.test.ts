import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createSql, type Sql } from "../../lib/db/client.ts";
import { type Listener, listenerSqlOptions, startListener } from "../../lib/listener/startListener.ts";
import { parkEvents } from "../../lib/subscriptions/parkEvents.ts";
import { createSqsClient } from "../listener/support.ts";
import { startTestHttpApi, type TestHttpApi } from "../support/httpApi.ts";

// The operators' routes through the real handlers and the local API Gateway adapter, on real Postgres
// and the SQS stand-in: health, readiness (listener heartbeat), stream listing and parked events.
const prefix = `t${randomBytes(3).toString("hex")}-ops-`;
let api: TestHttpApi;

beforeAll(async () => {
  api = await startTestHttpApi({
    EVENTBUS_QUEUE_PREFIX: prefix,
    AWS_ENDPOINT_URL_SQS: inject("sqsEndpoint"),
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
  });
});
afterAll(async () => {
  await api.close();
});

describe("GET /health and GET /health/ready", () => {
  it("answers liveness without a token or a database", async () => {
    const response = await api.request("GET", "/health", { token: null });
    expect(response).toMatchObject({ status: 200, body: { status: "ok" } });
  });

  it("is 503 while no listener runs, 200 naming the listener once one does, 503 again after it stops", async () => {
    const down = await api.request("GET", "/health/ready", { token: null });
    expect(down.status).toBe(503);
    expect(down.body).toEqual({
      status: "unavailable",
      database: "ok",
      listeners: [],
      reason: "No listener has checked in within 30 s.",
    });

    const sqs = createSqsClient();
    const listenerSql: Sql = createSql(api.db.url, listenerSqlOptions);
    let listener: Listener | undefined = await startListener({
      sql: listenerSql,
      sqs,
      source: "urn:test",
      listenerId: "ready-test",
      claimIntervalMs: 100,
    });
    try {
      await expect
        .poll(async () => (await api.request("GET", "/health/ready", { token: null })).body, {
          timeout: 10_000,
        })
        .toMatchObject({ status: "ready", database: "ok", listeners: [{ listenerId: "ready-test" }] });
      await listener.stop();
      listener = undefined;
      await expect
        .poll(async () => (await api.request("GET", "/health/ready", { token: null })).status, {
          timeout: 10_000,
        })
        .toBe(503);
    } finally {
      await listener?.stop();
      await listenerSql.end({ timeout: 5 });
      sqs.destroy();
    }
  });
});

describe("GET /streams", () => {
  it("lists streams by prefix and category a page at a time, and only those a bounded token may read", async () => {
    for (const id of ["orders-1", "orders-2", "orders_x-1", "invoices-1"]) {
      expect(
        (await api.request("POST", `/streams/${id}/events`, { body: { type: "T", data: {} } })).status,
      ).toBe(201);
    }
    const first = await api.request("GET", "/streams?prefix=orders&limit=2");
    expect(first.status).toBe(200);
    expect(first.body.streams.map((s: any) => s.streamId)).toEqual(["orders-1", "orders-2"]);
    expect(first.body.next).toBe("orders-2");
    const second = await api.request("GET", `/streams?prefix=orders&limit=2&after=${first.body.next}`);
    expect(second.body).toMatchObject({ streams: [{ streamId: "orders_x-1" }], next: null });
    // `_` is literal in a prefix, not LIKE's any-character.
    expect((await api.request("GET", "/streams?prefix=orders_")).body.streams).toHaveLength(1);

    const category = await api.request("GET", "/streams?category=orders");
    expect(category.body.streams.map((s: any) => s.streamId)).toEqual(["orders-1", "orders-2"]);
    expect(category.body.streams[0]).toMatchObject({ category: "orders", version: 1 });

    const bounded = await api.token("events:read", ["invoices-*"]);
    expect((await api.request("GET", "/streams", { token: bounded })).body.streams).toEqual([
      expect.objectContaining({ streamId: "invoices-1" }),
    ]);
  });

  it("refuses bad parameters with a 400 naming the parameter, and a missing scope with 403", async () => {
    const limit = await api.request("GET", "/streams?limit=0");
    expect(limit).toMatchObject({ status: 400, body: { code: "VALIDATION_FAILED", parameter: "limit" } });
    const empty = await api.request("GET", "/streams?prefix=");
    expect(empty).toMatchObject({ status: 400, body: { code: "VALIDATION_FAILED", parameter: "prefix" } });
    const writer = await api.token("events:write");
    expect((await api.request("GET", "/streams", { token: writer })).status).toBe(403);
  });
});

describe("GET /subscriptions/{name}/parked", () => {
  it("lists parked events with stream, type and reason in position order; 404 for an unknown subscription", async () => {
    const put = await api.request("PUT", "/subscriptions/parking", { body: { startFrom: "current" } });
    expect(put.status).toBe(201);
    const appended = await api.request("POST", "/streams/parked-1/events", {
      body: [
        { type: "Big", data: { n: 1 } },
        { type: "Big", data: { n: 2 } },
      ],
    });
    const [a, b] = appended.body.events.map((e: any) => ({ position: Number(e.position), eventId: e.id }));
    await parkEvents(api.db.sql, "parking", [
      { ...b, reason: "Message must be shorter than 1024 bytes." },
      { ...a, reason: "Invalid characters" },
    ]);

    const page = await api.request("GET", "/subscriptions/parking/parked?limit=1");
    expect(page.status).toBe(200);
    expect(page.body.parked).toEqual([
      {
        position: String(a.position),
        eventId: a.eventId,
        streamId: "parked-1",
        type: "Big",
        reason: "Invalid characters",
        parkedAt: expect.any(String),
      },
    ]);
    const next = await api.request("GET", `/subscriptions/parking/parked?after=${page.body.next}`);
    expect(next.body).toMatchObject({
      parked: [{ position: String(b.position), reason: "Message must be shorter than 1024 bytes." }],
      next: null,
    });

    const missing = await api.request("GET", "/subscriptions/nope/parked");
    expect(missing).toMatchObject({ status: 404, body: { code: "SUBSCRIPTION_NOT_FOUND" } });
    const reader = await api.token("events:read");
    expect((await api.request("GET", "/subscriptions/parking/parked", { token: reader })).status).toBe(403);
  });
});
