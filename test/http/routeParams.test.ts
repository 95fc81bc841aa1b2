import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertCaptureName } from "../../lib/capture/captureNames.ts";
import { isValidStreamId } from "../../lib/events/streamId.ts";
import { captureNameParam, streamIdParam, subscriptionNameParam } from "../../lib/http/pathParams.ts";
import { assertSubscriptionName } from "../../lib/subscriptions/definition.ts";
import { startTestHttpApi, type TestHttpApi } from "../support/httpApi.ts";

const samples = [
  "",
  "a",
  "A",
  "0",
  "-a",
  "_a",
  "a-b",
  "a_b",
  "a.b",
  "a:b",
  "a@b",
  "a/b",
  "a b",
  "é",
  "realtime",
  "Orders",
  "orders_2",
  "orders-2",
  "x".repeat(63),
  "x".repeat(64),
  "x".repeat(65),
  "x".repeat(200),
  "x".repeat(201),
];
const accepts = (check: () => unknown): boolean => {
  try {
    check();
    return true;
  } catch {
    return false;
  }
};

describe("path parameter schemas accept exactly what the domain's checks accept", () => {
  it.each([
    ["streamId", (v: string) => streamIdParam.safeParse(v).success, isValidStreamId],
    [
      "subscription name",
      (v: string) => subscriptionNameParam.safeParse(v).success,
      // An empty prefix: the length a prefix takes away is the handler's own check, after the schema.
      (v: string) => accepts(() => assertSubscriptionName(v, "")),
    ],
    [
      "capture name",
      (v: string) => captureNameParam.safeParse(v).success,
      (v: string) => accepts(() => assertCaptureName(v)),
    ],
  ])("%s", (_name, schema, domain) => {
    const disagreements = samples.filter((value) => schema(value) !== domain(value));
    expect(disagreements).toEqual([]);
  });
});

let api: TestHttpApi;
beforeAll(async () => {
  api = await startTestHttpApi();
});
afterAll(() => api.close());

describe("a refused parameter is a 400 naming it and its rule", () => {
  it.each([
    ["GET", "/streams/-bad", "Path parameter 'streamId' must be 1-200 characters", "streamId"],
    ["GET", "/subscriptions/realtime", "Path parameter 'name' is reserved", "name"],
    ["GET", "/captures/Orders", "Path parameter 'name' must match ^[a-z][a-z0-9_]{0,62}$", "name"],
    ["GET", "/events?limit=1001", "Query parameter 'limit' must be an integer between 1 and 1000.", "limit"],
    ["GET", "/events?after=1e3", "Query parameter 'after' must be an integer >= 0.", "after"],
    ["GET", "/events?type=A&type=", "Query parameter 'type' must be 1-200 characters.", "type"],
    ["GET", "/events?filter=%7B", "Query parameter 'filter' must be an event pattern", "filter"],
    [
      "GET",
      "/streams/x/events?direction=up",
      "Query parameter 'direction' must be forward or backward.",
      "direction",
    ],
    ["GET", "/streams?prefix=", "Query parameter 'prefix' must be 1-200 characters.", "prefix"],
    ["GET", "/realtime/connections?cursor=x", "Query parameter 'cursor' is not a cursor", "cursor"],
    [
      "POST",
      "/streams/x/events?expectedVersion=-1",
      "Query parameter 'expectedVersion' must be any, no_stream, stream_exists or a version number >= 0.",
      "expectedVersion",
    ],
  ])("%s %s", async (method, path, detail, parameter) => {
    const answer = await api.request(method, path, method === "POST" ? { body: { type: "A" } } : {});
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: "VALIDATION_FAILED", parameter });
    expect(answer.body.detail).toContain(detail);
  });

  it("reports the first refused parameter in the order handlers always checked, and a pattern's own pointer", async () => {
    const both = await api.request("GET", "/events?filter=%7B&after=x");
    expect(both.body).toMatchObject({ status: 400, parameter: "after" });
    const pattern = await api.request("GET", `/events?filter=${encodeURIComponent('{"type":"A"}')}`);
    expect(pattern.body).toMatchObject({ code: "VALIDATION_FAILED", errors: [{ pointer: "/type" }] });
  });

  it("keeps repeated type and category as any of them, and the defaults the handlers always had", async () => {
    for (const [type, n] of [
      ["RpA", 1],
      ["RpB", 2],
      ["RpC", 3],
    ] as const) {
      for (let i = 0; i < n; i++) {
        await api.request("POST", `/streams/rp${type}-${i}/events`, { body: { type } });
      }
    }
    const both = await api.request("GET", "/events?type=RpA&type=RpC&limit=1000");
    expect(both.body.events.map((e: any) => e.type).sort()).toEqual(["RpA", "RpC", "RpC", "RpC"]);
    const categories = await api.request("GET", "/events?category=rpRpA&category=rpRpB&limit=1000");
    expect(categories.body.events).toHaveLength(3);
    // `direction` defaults to forward; `limit` of GET /streams to 100.
    const read = await api.request("GET", "/streams/rpRpC-0/events");
    expect(read.status).toBe(200);
    const listed = await api.request("GET", "/streams");
    expect(listed.body.streams.length).toBeLessThanOrEqual(100);
  });
});
