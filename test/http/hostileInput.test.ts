import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { uniquePrefix } from "../listener/support.ts";
import { startTestHttpApi, type TestHttpApi } from "../support/httpApi.ts";

// Issue 9: input that used to get a 500 (or a 2xx for something that could never be stored or delivered)
// now gets a precise 400 naming the field and the rule, and valid input keeps working.

let api: TestHttpApi;
beforeAll(async () => {
  api = await startTestHttpApi({
    AWS_ENDPOINT_URL_SQS: inject("sqsEndpoint"),
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    EVENTBUS_QUEUE_PREFIX: uniquePrefix("hostile"),
  });
});
afterAll(() => api.close());

/** Nothing internal in a problem document: no SQL, schema names, stack frames or zod's generic text. */
function expectCleanProblem(body: any) {
  const text = JSON.stringify(body);
  expect(text).not.toMatch(/eventbus\.|select |insert |stack|at \/|node_modules|Invalid input/i);
}

async function expect400(
  res: { status: number; body: any },
  detail: RegExp,
): Promise<{ status: number; body: any }> {
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body).toMatchObject({ code: "VALIDATION_FAILED", status: 400 });
  expect(res.body.detail).toMatch(detail);
  expectCleanProblem(res.body);
  return res;
}

const nested = (depth: number): string => `${"[".repeat(depth)}${"]".repeat(depth)}`;

describe("text Postgres cannot store", () => {
  it.each([
    ["NUL in a data value", { type: "A", data: { name: "a\u0000b" } }, "/0/data/name", /U\+0000/],
    ["NUL in a data key", { type: "A", data: { "k\u0000": 1 } }, "/0/data/k\\u0000", /member name.*U\+0000/],
    ["a lone surrogate in data", { type: "A", data: ["ok", "\ud800"] }, "/0/data/1", /lone surrogate/],
    ["NUL in metadata", { type: "A", metadata: { who: "\u0000" } }, "/0/metadata/who", /U\+0000/],
    [
      "a lone low surrogate in metadata",
      { type: "A", metadata: { "\udc00": 1 } },
      "/0/metadata/\\uDC00",
      /is not a valid attribute name/,
    ],
    ["NUL in type", { type: "A\u0000" }, "/0/type", /U\+0000/],
    ["a lone surrogate in type", { type: "A\ud800" }, "/0/type", /lone surrogate \(U\+D800/],
    ["NUL in id", { id: "a\u0000", type: "A" }, "/0/id", /printable ASCII/],
  ])("refuses %s with a pointer to it", async (_name, event, pointer, rule) => {
    // JSON.stringify writes lone surrogates as \uD800 escapes, exactly as a client would send them.
    const res = await api.request("POST", "/streams/unicode-1/events", { body: event });
    await expect400(res, rule);
    expect(res.body.detail).toContain(pointer);
    expect(res.body.pointer ?? res.body.errors?.[0]?.pointer).toBe(pointer);
  });

  it("refuses them in CloudEvents extension attributes too", async () => {
    const res = await api.request("POST", "/streams/unicode-1/events", {
      contentType: "application/cloudevents+json",
      body: { specversion: "1.0", id: "ce-nul", source: "/s", type: "T", trace: "a\u0000" },
    });
    await expect400(res, /\/0\/trace must not contain U\+0000/);
  });

  it("stores and reads back what it accepts: astral characters, escapes, U+FFFF in data", async () => {
    const data = { emoji: "\u{1F600}", ctl: "\u0001\u001f", nonchar: "\uffff\ufffe", "key \u{10FFFF}": true };
    const res = await api.request("POST", "/streams/unicode-2/events", {
      body: { type: "Ok\u{1F600}", data },
    });
    expect(res.status).toBe(201);
    const read = await api.request("GET", "/streams/unicode-2/events");
    expect(read.body.events[0]).toMatchObject({ type: "Ok\u{1F600}", data });
  });

  it("refuses NUL or a lone surrogate in a query parameter, naming it", async () => {
    await expect400(
      await api.request("GET", "/events?type=A%00B"),
      /Query parameter 'type' must not contain U\+0000/,
    );
    const res = await api.request("GET", "/events?category=%00");
    expect(res.body.parameter).toBe("category");
    await expect400(
      await api.request("GET", "/events?type=%ED%A0%80"),
      /'type' is not valid percent-encoding/,
    );
  });

  it("refuses NUL in a path parameter", async () => {
    await expect400(await api.request("GET", "/streams/a%00b/events"), /Stream ids|U\+0000/);
    await expect400(await api.request("GET", "/subscriptions/a%00b"), /U\+0000|Subscription names/);
  });
});

describe("nesting", () => {
  it("refuses event data nested 5,000 deep with 400, not a stack overflow", async () => {
    const res = await api.request("POST", "/streams/deep-1/events", {
      rawBody: `{"type":"A","data":${nested(5000)}}`,
    });
    await expect400(res, /nests deeper than the limit of 128 levels/);
  });

  it("refuses data one level beyond 64 and accepts 64", async () => {
    const deep = await api.request("POST", "/streams/deep-1/events", {
      rawBody: `{"type":"A","data":${nested(65)}}`,
    });
    await expect400(deep, /\/0\/data(\/0){64} nests deeper than the limit of 64 levels/);
    const ok = await api.request("POST", "/streams/deep-1/events", {
      rawBody: `{"type":"A","data":${nested(64)}}`,
    });
    expect(ok.status).toBe(201);
    const meta = await api.request("POST", "/streams/deep-1/events", {
      rawBody: `{"type":"A","metadata":{"m":${nested(64)}}}`,
    });
    // Metadata keys become CloudEvents extension attributes, whose values are scalars.
    await expect400(meta, /\/0\/metadata\/m must be a string, a boolean or an integer/);
  });

  it("refuses a subscription filter nested 5,000 deep, and one nested beyond its limit", async () => {
    let filter = "[1]";
    for (let i = 0; i < 5000; i++) filter = `{"a":${filter}}`;
    const res = await api.request("PUT", "/subscriptions/deep", { rawBody: `{"filter":${filter}}` });
    await expect400(res, /nests deeper than the limit of 128 levels/);
    let twelve: unknown = ["x"];
    for (let i = 0; i < 12; i++) twelve = { a: twelve };
    await expect400(
      await api.request("PUT", "/subscriptions/deep", { body: { filter: twelve } }),
      /Invalid filter: .* nests deeper than/,
    );
  });
});

describe("event type", () => {
  it.each([
    ["U+FFFE", "Order\ufffe", /\\uFFFE|U\+FFFE|must not contain/],
    ["U+FFFF", "\uffffOrder", /must not contain/],
    ["a tab", "Order\tPlaced", /\\u0009/],
    ["201 characters", "x".repeat(201), /at most 200 characters/],
    ["an empty string", "", /must not be empty/],
    ["leading whitespace", " Order", /must not start with whitespace/],
  ])("refuses a type with %s (SQS message attributes could not carry it)", async (_name, type, rule) => {
    const res = await api.request("POST", "/streams/types-1/events", { body: { type } });
    await expect400(res, rule);
    expect(res.body.detail).toContain("/0/type");
  });

  it("accepts 200 characters, astral ones counted once", async () => {
    const res = await api.request("POST", "/streams/types-1/events", {
      body: { type: "\u{1F600}".repeat(200) },
    });
    expect(res.status).toBe(201);
  });
});

describe("every 400 names the field and the rule", () => {
  it.each([
    ["a missing type", { data: 1 }, /\/type is required \(a string\)/],
    ["a type of the wrong kind", { type: 7 }, /\/type must be a string \(got an integer\)/],
    ["an unknown member", { type: "A", extra: true }, /has unknown member "extra"/],
    [
      "metadata that is not an object",
      { type: "A", metadata: [1] },
      /\/metadata must be an object \(got an array\)/,
    ],
    ["a body that is not an object", 5, /the value must be an object \(got an integer\)/],
  ])("append: %s", async (_name, body, rule) => {
    await expect400(await api.request("POST", "/streams/fields-1/events", { body }), rule);
  });

  it.each([
    [
      "a bad startFrom",
      { startFrom: "yesterday" },
      /\/startFrom must be "origin", "current" or an integer position/,
    ],
    ["a fractional startFrom", { startFrom: 1.5 }, /\/startFrom must be .*integer/],
    ["a bad ordering", { ordering: "global" }, /\/ordering must be one of "none", "stream"/],
    ["a zero maxReceiveCount", { maxReceiveCount: 0 }, /\/maxReceiveCount must be >= 1/],
    ["an unknown member", { filters: {} }, /has unknown member "filters"/],
    ["a body that is an array", [], /the value must be an object \(got an array\)/],
  ])("PUT /subscriptions: %s", async (_name, body, rule) => {
    await expect400(await api.request("PUT", "/subscriptions/fields", { body }), rule);
  });

  it("replay: a missing from", async () => {
    await expect400(
      await api.request("POST", "/subscriptions/fields/replay", { body: {} }),
      /\/from is required and must be "origin", "current" or an integer position >= 0/,
    );
  });
});

describe("filters that could never be evaluated", () => {
  it.each([
    [
      "a fraction on position",
      { position: [{ numeric: [">", 1.5] }] },
      /\/position\/0\/numeric\/1 must be an integer/,
    ],
    [
      "1e30 on streamversion",
      { streamversion: [{ numeric: ["<", 1e30] }] },
      /streamversion is an integer field/,
    ],
    ["a fractional literal on position", { position: [2.5] }, /\/position\/0 must be an integer/],
    ["NUL in a type literal", { type: ["A\u0000"] }, /\/type\/0 must not contain U\+0000/],
    [
      "a lone surrogate in a prefix",
      { subject: [{ prefix: "\ud800" }] },
      /\/subject\/0\/prefix must not contain a lone/,
    ],
    ["NUL in a key", { data: { "\u0000": [1] } }, /member name that must not contain U\+0000/],
  ])("refuses %s at PUT", async (_name, filter, rule) => {
    await expect400(await api.request("PUT", "/subscriptions/poison", { body: { filter } }), rule);
  });

  it("accepts integer and fractional matchers where they can be evaluated", async () => {
    const filter = {
      position: [{ numeric: [">=", 1, "<", 9007199254740991] }],
      data: { n: [{ numeric: [">", 1.5] }] },
    };
    const res = await api.request("PUT", "/subscriptions/numeric-ok", { body: { filter } });
    expect(res.status).toBe(201);
  });
});

describe("start positions beyond the head", () => {
  it("refuses startFrom and replay from beyond the head, naming both, and accepts head + 1", async () => {
    const appended = await api.request("POST", "/streams/head-1/events", {
      body: [{ type: "A" }, { type: "B" }],
    });
    expect(appended.status).toBe(201);
    const all = await api.request("GET", "/events?limit=1000");
    // Positions leave the bus as decimal strings (CloudEvents integers are 32-bit).
    const head = Number(all.body.events.at(-1).position);

    const beyond = await api.request("PUT", "/subscriptions/beyond", { body: { startFrom: head + 100 } });
    await expect400(beyond, new RegExp(`startFrom ${head + 100} is beyond the head position ${head}`));
    expect((await api.request("GET", "/subscriptions/beyond")).status).toBe(404);

    const next = await api.request("PUT", "/subscriptions/beyond", { body: { startFrom: head + 1 } });
    expect(next.status).toBe(201);
    expect(next.body.checkpoint).toBe(head);

    const replay = await api.request("POST", "/subscriptions/beyond/replay", { body: { from: head + 5 } });
    await expect400(replay, new RegExp(`from ${head + 5} is beyond the head position ${head}`));
    const fine = await api.request("POST", "/subscriptions/beyond/replay", { body: { from: head } });
    expect(fine).toMatchObject({ status: 200, body: { checkpoint: head - 1 } });
  });
});

describe("GET /events with repeated parameters", () => {
  beforeAll(async () => {
    for (const [stream, type] of [
      ["alpha-1", "Shipped"],
      ["beta-1", "Paid"],
      ["gamma-1", "Placed"],
      ["alpha-2", "Odd,Name"],
    ]) {
      expect((await api.request("POST", `/streams/${stream}/events`, { body: { type } })).status).toBe(201);
    }
  });

  it("reads type=A&type=B as A or B", async () => {
    const res = await api.request("GET", "/events?type=Shipped&type=Paid&limit=1000");
    expect(res.status).toBe(200);
    expect(res.body.events.map((e: any) => e.type).sort()).toEqual(["Paid", "Shipped"]);
  });

  it("reads category=a&category=b as a or b", async () => {
    const res = await api.request("GET", "/events?category=alpha&category=gamma&limit=1000");
    expect(res.body.events.map((e: any) => e.subject).sort()).toEqual(["alpha-1", "alpha-2", "gamma-1"]);
  });

  it("keeps a value that contains a comma whole", async () => {
    const res = await api.request("GET", "/events?type=Odd%2CName");
    expect(res.body.events.map((e: any) => e.subject)).toEqual(["alpha-2"]);
  });

  it("refuses a single-valued parameter given twice", async () => {
    await expect400(
      await api.request("GET", "/events?limit=1&limit=2"),
      /'limit' must be given at most once/,
    );
  });
});

describe("duplicate event ids", () => {
  it("never reveal an event in a stream outside the caller's scope", async () => {
    const writer = await api.token("events:write events:read", ["orders-*"]);
    const other = await api.request("POST", "/streams/secret-1/events", {
      body: { id: "shared-id", type: "A" },
    });
    expect(other.status).toBe(201);
    const mine = await api.request("POST", "/streams/orders-77/events", {
      token: writer,
      body: { id: "shared-id", type: "A" },
    });
    // Ids are unique per stream: the same id elsewhere is no conflict, and nothing about it is told.
    expect(mine.status).toBe(201);
    expect(JSON.stringify(mine.body)).not.toContain("secret-1");
    const conflict = await api.request("POST", "/streams/orders-77/events", {
      token: writer,
      body: [
        { id: "shared-id", type: "B" },
        { id: "fresh-id", type: "B" },
      ],
    });
    expect(conflict.status).toBe(409);
    expect(conflict.body.code).toBe("DUPLICATE_EVENT_ID");
    expect(JSON.stringify(conflict.body)).not.toContain("secret-1");
    expectCleanProblem(conflict.body);
  });
});

describe("the local HTTP adapter", () => {
  function rawGet(path: string, host: string): Promise<{ status: number; body: any }> {
    const url = new URL(api.baseUrl);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: url.hostname, port: url.port, path, method: "GET", headers: { host } },
        (res) => {
          let text = "";
          res.on("data", (chunk) => {
            text += chunk;
          });
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }),
          );
        },
      );
      req.on("error", reject);
      req.end();
    });
  }

  it.each([["bad host"], ["[::1"], ["a/b"], ["user@host"]])(
    "answers a malformed Host '%s' with 400",
    async (host) => {
      const res = await rawGet("/events", host);
      await expect400(res, /Host header is not a valid host name/);
    },
  );

  it("still serves a request whose Host has a port", async () => {
    const res = await rawGet("/nowhere", "localhost:1234");
    expect(res.status).toBe(404);
  });
});
