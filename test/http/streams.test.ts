import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestHttpApi, type TestHttpApi } from "../support/httpApi.ts";

let api: TestHttpApi;
beforeAll(async () => {
  api = await startTestHttpApi();
});
afterAll(() => api.close());

describe("POST /streams/{streamId}/events", () => {
  it("appends one event and answers 201 with versions and positions", async () => {
    const res = await api.request("POST", "/streams/orders-1/events", {
      body: { type: "OrderPlaced", data: { total: 42 } },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ streamId: "orders-1", version: 1, events: [{ version: 1 }] });
    expect(res.body.events[0].id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.events[0].position).toBeGreaterThan(0);
  });

  it("appends a batch with expectedVersion and rejects a stale one with 409", async () => {
    const batch = [{ type: "A" }, { type: "B", metadata: { actor: "u1" } }];
    const ok = await api.request("POST", "/streams/batch-1/events?expectedVersion=no_stream", {
      body: batch,
    });
    expect(ok.status).toBe(201);
    expect(ok.body.events.map((e: any) => e.version)).toEqual([1, 2]);
    const stale = await api.request("POST", "/streams/batch-1/events?expectedVersion=1", {
      body: { type: "C" },
    });
    expect(stale.status).toBe(409);
    expect(stale.headers.get("content-type")).toBe("application/problem+json");
    expect(stale.body).toMatchObject({
      code: "WRONG_EXPECTED_VERSION",
      expectedVersion: 1,
      actualVersion: 2,
      status: 409,
    });
    const exists = await api.request("POST", "/streams/nothing-here/events?expectedVersion=stream_exists", {
      body: { type: "C" },
    });
    expect(exists.body).toMatchObject({
      code: "WRONG_EXPECTED_VERSION",
      expectedVersion: "stream_exists",
      actualVersion: 0,
    });
  });

  it("is idempotent for a retried request with the same event ids", async () => {
    const body = [
      { id: "retry-a", type: "A" },
      { id: "retry-b", type: "B" },
    ];
    const first = await api.request("POST", "/streams/retry-1/events?expectedVersion=no_stream", { body });
    const again = await api.request("POST", "/streams/retry-1/events?expectedVersion=no_stream", { body });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    const read = await api.request("GET", "/streams/retry-1/events");
    expect(read.body.events).toHaveLength(2);
  });

  it("accepts structured and batched CloudEvents", async () => {
    const single = await api.request("POST", "/streams/ce-1/events", {
      contentType: "application/cloudevents+json",
      body: {
        specversion: "1.0",
        id: "ce-evt-1",
        source: "/shop",
        type: "com.shop.OrderPlaced",
        data: { n: 1 },
        traceparent: "00-x",
      },
    });
    expect(single.status).toBe(201);
    const batch = await api.request("POST", "/streams/ce-1/events", {
      contentType: "application/cloudevents-batch+json; charset=utf-8",
      body: [
        { specversion: "1.0", id: "ce-evt-2", source: "/shop", type: "com.shop.OrderPaid" },
        {
          specversion: "1.0",
          id: "ce-evt-3",
          source: "/shop",
          type: "com.shop.OrderShipped",
          datacontenttype: "application/json",
          data: {},
        },
      ],
    });
    expect(batch.status).toBe(201);
    const read = await api.request("GET", "/streams/ce-1/events");
    expect(read.body.events.map((e: any) => e.id)).toEqual(["ce-evt-1", "ce-evt-2", "ce-evt-3"]);
    // The producer's attributes are kept, not folded into an object-valued attribute.
    expect(read.body.events[0]).toMatchObject({ data: { n: 1 }, source: "/shop", traceparent: "00-x" });
    expect(read.body.events[0]).not.toHaveProperty("metadata");
    const missingId = await api.request("POST", "/streams/ce-1/events", {
      contentType: "application/cloudevents+json",
      body: { specversion: "1.0", source: "/shop", type: "x" },
    });
    expect(missingId.status).toBe(400);
    expect(missingId.body.errors[0].pointer).toBe("/id");
  });

  it.each([
    [
      "a body that is not JSON",
      { rawBody: "{nope", contentType: "application/json" },
      400,
      "VALIDATION_FAILED",
    ],
    ["a missing type", { body: { data: 1 } }, 400, "VALIDATION_FAILED"],
    ["a type of the wrong kind", { body: { type: 7 } }, 400, "VALIDATION_FAILED"],
    ["an unknown member", { body: { type: "A", extra: true } }, 400, "VALIDATION_FAILED"],
    ["metadata that is not an object", { body: { type: "A", metadata: [1] } }, 400, "VALIDATION_FAILED"],
    ["an empty batch", { body: [] }, 400, "VALIDATION_FAILED"],
    [
      "an unsupported media type",
      { rawBody: "type=A", contentType: "text/plain" },
      415,
      "UNSUPPORTED_MEDIA_TYPE",
    ],
    ["no body at all", {}, 415, "UNSUPPORTED_MEDIA_TYPE"],
    [
      "an event too large to deliver",
      { body: { type: "A", data: "x".repeat(200_000) } },
      413,
      "PAYLOAD_TOO_LARGE",
    ],
    [
      "too many events",
      { body: Array.from({ length: 1001 }, () => ({ type: "A" })) },
      413,
      "PAYLOAD_TOO_LARGE",
    ],
  ])("refuses %s", async (_name, options, status, code) => {
    const res = await api.request("POST", "/streams/bad-1/events", options);
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ code, status });
    expect(JSON.stringify(res.body)).not.toMatch(/eventbus\.|select |stack|at \//i);
  });

  it("refuses a bad expectedVersion and a bad stream id", async () => {
    const version = await api.request("POST", "/streams/bad-1/events?expectedVersion=-1", {
      body: { type: "A" },
    });
    expect(version.body).toMatchObject({ code: "VALIDATION_FAILED", parameter: "expectedVersion" });
    const id = await api.request("POST", `/streams/${encodeURIComponent("-starts-with-dash")}/events`, {
      body: { type: "A" },
    });
    expect(id.body).toMatchObject({ code: "VALIDATION_FAILED", streamId: "-starts-with-dash" });
    const long = await api.request("POST", `/streams/${"a".repeat(201)}/events`, { body: { type: "A" } });
    expect(long.status).toBe(400);
    const encoding = await api.request("POST", "/streams/%E0%A4%A/events", { body: { type: "A" } });
    expect(encoding.body).toMatchObject({ status: 400, code: "VALIDATION_FAILED", parameter: "streamId" });
  });

  it("refuses a body above the request limit with 413 before parsing it", async () => {
    const res = await api.request("POST", "/streams/big-1/events", {
      rawBody: `[${'{"type":"A"},'.repeat(500_000)}{"type":"A"}]`,
    });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe("PAYLOAD_TOO_LARGE");
  });
});

describe("reading", () => {
  beforeAll(async () => {
    await api.request("POST", "/streams/read-1/events", {
      body: Array.from({ length: 5 }, (_, i) => ({ type: i % 2 ? "Odd" : "Even", data: { i } })),
    });
    await api.request("POST", "/streams/other-1/events", { body: { type: "Odd", data: { i: 99 } } });
  });

  it("pages a stream forward and backward as CloudEvents", async () => {
    const first = await api.request("GET", "/streams/read-1/events?limit=2");
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ streamId: "read-1", version: 5, next: 3 });
    expect(first.body.events[0]).toMatchObject({
      specversion: "1.0",
      type: "Even",
      subject: "read-1",
      streamid: "read-1",
      streamversion: 1,
      datacontenttype: "application/json",
      data: { i: 0 },
    });
    expect(first.body.events[0].position).toMatch(/^[1-9][0-9]*$/);
    expect(Date.parse(first.body.events[0].time)).not.toBeNaN();
    const rest = await api.request("GET", "/streams/read-1/events?from=3&limit=10");
    expect(rest.body.events.map((e: any) => e.streamversion)).toEqual([3, 4, 5]);
    expect(rest.body.next).toBeNull();
    const back = await api.request("GET", "/streams/read-1/events?direction=backward&limit=2");
    expect(back.body.events.map((e: any) => e.streamversion)).toEqual([5, 4]);
    expect(back.body.next).toBe(3);
  });

  it("answers 404 for an unknown stream and 400 for bad paging", async () => {
    expect((await api.request("GET", "/streams/missing-1/events")).body).toMatchObject({
      status: 404,
      code: "STREAM_NOT_FOUND",
    });
    expect((await api.request("GET", "/streams/missing-1")).body.code).toBe("STREAM_NOT_FOUND");
    for (const query of ["limit=0", "limit=1001", "limit=abc", "from=-1", "direction=sideways"]) {
      const res = await api.request("GET", `/streams/read-1/events?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.code).toBe("VALIDATION_FAILED");
    }
  });

  it("returns stream metadata", async () => {
    const res = await api.request("GET", "/streams/read-1");
    expect(res.body).toMatchObject({ streamId: "read-1", version: 5 });
    expect(Date.parse(res.body.createdAt)).toBeLessThanOrEqual(Date.parse(res.body.updatedAt));
  });

  it("reads all streams in global order with type and category filters", async () => {
    const all = await api.request("GET", "/events?limit=1000");
    // Positions are decimal strings in CloudEvents (its integers are 32-bit); `next` is a number.
    const positions = all.body.events.map((e: any) => Number(e.position));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    const odd = await api.request("GET", "/events?type=Odd&limit=1000");
    expect(odd.body.events.every((e: any) => e.type === "Odd")).toBe(true);
    expect(odd.body.events.map((e: any) => e.subject)).toEqual(expect.arrayContaining(["read-1", "other-1"]));
    const category = await api.request("GET", "/events?category=other");
    expect(category.body.events.map((e: any) => e.data)).toEqual([{ i: 99 }]);
    const page = await api.request("GET", `/events?limit=2&after=${positions[0]}`);
    expect(page.body.events.map((e: any) => Number(e.position))).toEqual(positions.slice(1, 3));
    expect(page.body.next).toBe(positions[2]);
  });
});

describe("auth", () => {
  it("answers 401 without a token or with a bad one", async () => {
    const none = await api.request("GET", "/streams/read-1/events", { token: null });
    expect(none.status).toBe(401);
    expect(none.body.code).toBe("UNAUTHORIZED");
    const forged = await api.request("GET", "/streams/read-1/events", {
      token: "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl",
    });
    expect(forged.status).toBe(401);
  });

  it("answers 403 for a missing scope or a stream outside the token's patterns", async () => {
    const reader = await api.token("events:read");
    const write = await api.request("POST", "/streams/orders-9/events", {
      token: reader,
      body: { type: "A" },
    });
    expect(write.status).toBe(403);
    expect(write.body).toMatchObject({ code: "FORBIDDEN", requiredScope: "events:write" });

    const ordersOnly = await api.token("events:write events:read", ["orders-*"]);
    expect(
      (await api.request("POST", "/streams/orders-9/events", { token: ordersOnly, body: { type: "A" } }))
        .status,
    ).toBe(201);
    expect(
      (await api.request("POST", "/streams/invoices-9/events", { token: ordersOnly, body: { type: "A" } }))
        .status,
    ).toBe(403);
    expect((await api.request("GET", "/streams/invoices-9", { token: ordersOnly })).status).toBe(403);
    const all = await api.request("GET", "/events?limit=1000", { token: ordersOnly });
    expect(all.status).toBe(200);
    expect(all.body.events.length).toBeGreaterThan(0);
    expect(all.body.events.every((e: any) => e.subject.startsWith("orders-"))).toBe(true);
  });
});

describe("routing", () => {
  it("answers unknown routes with a problem document", async () => {
    const res = await api.request("GET", "/nowhere", { token: null });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: "ROUTE_NOT_FOUND", title: "Route not found" });
  });
});
