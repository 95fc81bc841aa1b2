import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { MAX_FILTER_SCAN } from "../../lib/events/readAll.ts";
import { matchesEventPattern, validateEventPattern } from "../../lib/subscriptions/eventPattern.ts";
import { startTestHttpApi, type TestHttpApi } from "../support/httpApi.ts";

let api: TestHttpApi;

const events = [
  { stream: "orders-1", type: "OrderPlaced", data: { total: 120, ip: "10.0.0.33", tags: ["gift"] } },
  { stream: "orders-1", type: "OrderPaid", data: { total: 120, ip: "10.0.1.1" } },
  { stream: "orders-2", type: "OrderPlaced", data: { total: 15, ip: "2001:db8::7" } },
  { stream: "users-1", type: "UserRegistered", data: { ip: "192.168.1.1", tags: ["vip", "gift"] } },
  { stream: "orders-3", type: "OrderCancelled", data: { total: 99, ip: "10.0.0.200" } },
  { stream: "users-2", type: "userregistered", data: { ip: "::1" } },
];

const read = async (query: Record<string, string>) => {
  const res = await api.request("GET", `/events?${new URLSearchParams(query)}`);
  return res;
};
const types = (body: { events: Array<{ type: string; subject: string }> }) =>
  body.events.map((e) => `${e.subject}:${e.type}`);

beforeAll(async () => {
  api = await startTestHttpApi();
  for (const e of events) {
    const res = await api.request("POST", `/streams/${e.stream}/events`, {
      body: { type: e.type, data: e.data },
    });
    expect(res.status).toBe(201);
  }
});

afterAll(async () => {
  await api?.close();
});

describe("GET /events?filter=<EventBridge pattern>", () => {
  it.each([
    [
      "$or of a type and a CIDR block",
      { $or: [{ type: ["OrderCancelled"] }, { data: { ip: [{ cidr: "10.0.0.0/24" }] } }] },
      ["orders-1:OrderPlaced", "orders-3:OrderCancelled"],
    ],
    [
      "a wildcard on the stream",
      { streamid: [{ wildcard: "orders-*" }], data: { total: [{ numeric: [">", 100] }] } },
      ["orders-1:OrderPlaced", "orders-1:OrderPaid"],
    ],
    ["an IPv6 CIDR block", { data: { ip: [{ cidr: "2001:db8::/32" }] } }, ["orders-2:OrderPlaced"]],
    [
      "equals-ignore-case",
      { type: [{ "equals-ignore-case": "USERREGISTERED" }] },
      ["users-1:UserRegistered", "users-2:userregistered"],
    ],
    [
      "anything-but a prefix, on an array",
      { data: { tags: [{ "anything-but": { prefix: "gi" } }] } },
      ["users-1:UserRegistered"],
    ],
    [
      "a suffix on the type",
      { type: [{ suffix: "Placed" }] },
      ["orders-1:OrderPlaced", "orders-2:OrderPlaced"],
    ],
    ["position as a string", { position: ["3"] }, ["orders-2:OrderPlaced"]],
  ])("%s: returns exactly the matching events", async (_, pattern, expected) => {
    const res = await read({ filter: JSON.stringify(pattern) });
    expect(res.status).toBe(200);
    expect(types(res.body)).toEqual(expected);
    expect(res.body.next).toBeNull();
  });

  it("returns what the subscription matcher accepts among all events, and combines with type", async () => {
    const all = (await read({ limit: "1000" })).body.events as unknown[];
    const pattern = validateEventPattern({
      data: { total: [{ numeric: [">=", 15, "<", 100] }, { exists: false }] },
    });
    const res = await read({ filter: JSON.stringify(pattern) });
    expect(res.body.events).toEqual(all.filter((e) => matchesEventPattern(pattern, e)));
    const both = await read({ filter: JSON.stringify(pattern), type: "OrderPlaced" });
    expect(types(both.body)).toEqual(["orders-2:OrderPlaced"]);
  });

  it("pages through filtered events with next, without gaps or repeats", async () => {
    const filter = JSON.stringify({ type: [{ prefix: "Order" }] });
    const seen: string[] = [];
    let after = "0";
    for (let page = 0; page < 10; page++) {
      const res = await read({ filter, limit: "1", after });
      seen.push(...types(res.body));
      if (res.body.next === null) break;
      after = String(res.body.next);
    }
    expect(seen).toEqual([
      "orders-1:OrderPlaced",
      "orders-1:OrderPaid",
      "orders-2:OrderPlaced",
      "orders-3:OrderCancelled",
    ]);
  });

  it.each([
    ["not JSON", "{type:", /Query parameter 'filter' must be an event pattern as URL-encoded JSON/],
    [
      "a bad CIDR block",
      JSON.stringify({ data: { ip: [{ cidr: "10.0.0.0/40" }] } }),
      /\/data\/ip\/0\/cidr cidr mask bits/,
    ],
    ["$or with one branch", JSON.stringify({ $or: [{ type: ["A"] }] }), /\/\$or \$or must list at least two/],
    [
      "two stars in a wildcard",
      JSON.stringify({ type: [{ wildcard: "a**" }] }),
      /\/type\/0\/wildcard wildcard has two consecutive \*/,
    ],
    [
      "a filter just over the size limit",
      JSON.stringify({ type: ["x".repeat(4100)] }),
      /limited to 4096 bytes/,
    ],
  ])("refuses %s with 400 VALIDATION_FAILED naming the place", async (_, filter, message) => {
    const res = await read({ filter });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_FAILED");
    expect(res.body.detail).toMatch(message);
    expect(JSON.stringify(res.body)).not.toMatch(/select|eventbus\.|at \w+ \(/i);
  });

  it("ends a page after looking at its window of positions, and next carries on to a rare match", async () => {
    // Many events that do not match, then one that does: one request must not scan the whole log.
    const filler = Array.from({ length: 1000 }, () => ({ type: "Filler", data: {} }));
    for (let i = 0; i < Math.ceil((MAX_FILTER_SCAN + 100) / 1000); i++) {
      await appendToStream(api.db.sql, `filler-${i}`, filler);
    }
    await appendToStream(api.db.sql, "rare-1", [{ type: "Rare", data: { n: 1 } }]);
    const filter = JSON.stringify({ data: { n: [1] } });
    const first = await read({ filter, after: "6", limit: "10" });
    expect(first.status).toBe(200);
    expect(first.body.events).toEqual([]);
    expect(Number(first.body.next)).toBe(6 + MAX_FILTER_SCAN);
    const second = await read({ filter, after: String(first.body.next), limit: "10" });
    expect(types(second.body)).toEqual(["rare-1:Rare"]);
    expect(second.body.next).toBeNull();

    // Types have no index either: a read by type looks at the same window, and next carries on.
    const byType = await read({ type: "Rare", after: "6", limit: "10" });
    expect(byType.body.events).toEqual([]);
    expect(Number(byType.body.next)).toBe(6 + MAX_FILTER_SCAN);
    const found = await read({ type: "Rare", after: String(byType.body.next), limit: "10" });
    expect(types(found.body)).toEqual(["rare-1:Rare"]);
    expect(found.body.next).toBeNull();
  });
});
