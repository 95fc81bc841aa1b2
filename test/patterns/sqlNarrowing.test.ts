import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { cloudEventJson } from "../../lib/listener/cloudEventJson.ts";
import {
  type EventPattern,
  matchesEventPattern,
  validateEventPattern,
} from "../../lib/subscriptions/eventPattern.ts";
import { patternToSql } from "../../lib/subscriptions/patternToSql.ts";
import { readForwardEvents } from "../../lib/subscriptions/readForwardPage.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { fuzzRuns } from "../support/fuzz.ts";

/*
 * The listener narrows in SQL (patternToSql) and re-checks every row in TypeScript (matchesEventPattern).
 * The narrowing must never hide an event the TypeScript matcher accepts. Random events go through the real
 * append into a real Postgres; random patterns over every attribute and operator are checked against all of
 * them: every event TypeScript accepts must be among the rows the SQL fragment returns.
 */

const SOURCE = "urn:test";
const streamIds = [
  "orders-1",
  "orders-2",
  "Orders-3",
  "users-1",
  "a_b-1",
  "10.0.0.1",
  "2001:db8::1",
  "x.y:z@w-1",
];
const types = [
  "OrderPlaced",
  "orderplaced",
  "ORDERPLACED",
  "Order_Placed",
  "Order%Placed",
  "A\\B",
  "10.0.0.7",
  "::1",
  "Straße",
  "STRASSE",
  "*star*",
  "K\u212A",
];
const texts = [
  ...types,
  ...streamIds,
  "",
  "a",
  "gold",
  "GOLD",
  "10.0.0.33",
  "10.1.2.3",
  "2001:db8:0:0:1::1",
  "fe80::1",
];
const numbers = [0, 1, 2, 3, 5, 7, 10, 17, 42, 99, 100, 1.5, -3, 1e9, 0.1];

const leaf = fc.oneof(
  fc.constantFrom(...texts),
  fc.constantFrom(...numbers),
  fc.constantFrom(true, false, null),
);
const data = fc.record(
  {
    n: fc.oneof(fc.constantFrom(...numbers), fc.integer({ min: -50, max: 200 })),
    s: fc.constantFrom(...texts),
    ip: fc.constantFrom("10.0.0.33", "10.0.1.1", "192.168.1.1", "2001:db8::7", "::1", "not-an-ip"),
    arr: fc.array(leaf, { maxLength: 4 }),
    nested: fc.record(
      {
        a: fc.oneof(leaf, fc.array(fc.oneof(leaf, fc.array(leaf, { maxLength: 2 })), { maxLength: 3 })),
        objs: fc.oneof(
          fc.array(fc.record({ b: leaf, c: leaf }, { requiredKeys: [] }), { maxLength: 3 }),
          // Arrays in arrays, and the same key deeper down: EventBridge flattens the first, not the second.
          fc.array(
            fc.array(fc.record({ b: leaf, c: fc.record({ b: leaf }) }, { requiredKeys: [] }), {
              maxLength: 2,
            }),
            {
              maxLength: 2,
            },
          ),
        ),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);
const proposed = fc.record({
  streamId: fc.constantFrom(...streamIds),
  type: fc.constantFrom(...types),
  // Mostly an object; sometimes an array of them, a bare value or nothing, as producers send.
  data: fc.oneof(
    { weight: 6, arbitrary: data },
    { weight: 1, arbitrary: fc.array(data, { maxLength: 2 }) },
    { weight: 1, arbitrary: leaf },
  ),
  tier: fc.option(fc.constantFrom("gold", "GOLD", "silver"), { nil: undefined }),
  subject: fc.option(fc.constantFrom("custom", "orders-1"), { nil: undefined }),
});

/** Values each attribute holds, so that generated patterns match (and miss) real events. */
const positionTexts = Array.from({ length: 150 }, (_, i) => String(i + 1));
const pools: Record<string, string[]> = {
  type: types,
  streamid: streamIds,
  id: ["id_0%0", "id_3%3", "id_30%2", "ID_0%0", "id_", "%", "_"],
  position: positionTexts,
  subject: [...streamIds, "custom"],
  tier: ["gold", "GOLD", "silver"],
};
const numbersFor = (path: string) =>
  path === "position" || path === "streamversion" ? [1, 2, 3, 5, 17, 42, 99, 150] : numbers;

/** Matchers drawn from the values the field holds: sliced, cased, starred. */
function matcherFor(path: string): fc.Arbitrary<unknown> {
  const pool = pools[path] ?? texts;
  const value = fc.constantFrom(...pool);
  const fragment = fc
    .tuple(value, fc.nat(8), fc.nat(8))
    .map(([text, a, b]) => text.slice(Math.min(a, b), Math.max(a, b) + 1));
  const cased = fc
    .tuple(value, fc.constantFrom("lower", "upper", "same"))
    .map(([text, c]) => (c === "lower" ? text.toLowerCase() : c === "upper" ? text.toUpperCase() : text));
  const wildcardText = fc.tuple(value, fc.array(fc.nat(12), { maxLength: 3 })).map(([text, cuts]) => {
    const escaped = [...text].map((c) => (c === "*" || c === "\\" ? `\\${c}` : c));
    for (const cut of cuts) escaped.splice(Math.min(cut, escaped.length), 0, "*");
    return escaped.join("").replaceAll("**", "*");
  });
  const someStrings = (arb: fc.Arbitrary<string>) =>
    fc.oneof(arb, fc.array(arb, { minLength: 1, maxLength: 3 }));
  const op = fc.constantFrom("=", "<", "<=", ">", ">=");
  const number = fc.oneof(fc.constantFrom(...numbersFor(path)), fc.integer({ min: -10, max: 200 }));
  return fc.oneof(
    value,
    cased,
    leaf,
    number,
    fragment.map((prefix) => ({ prefix })),
    fragment.map((suffix) => ({ suffix })),
    fragment.map((s) => ({ prefix: { "equals-ignore-case": s } })),
    fragment.map((s) => ({ suffix: { "equals-ignore-case": s } })),
    cased.map((s) => ({ "equals-ignore-case": s })),
    wildcardText.map((wildcard) => ({ wildcard })),
    fc.tuple(op, number).map(([o, n]) => ({ numeric: [o, n] })),
    fc.tuple(fc.constantFrom(">", ">="), number, fc.constantFrom("<", "<="), number).map(([a, n, b, m]) => ({
      numeric: [a, Math.min(n, m), b, Math.max(n, m) + 1],
    })),
    fc.boolean().map((exists) => ({ exists })),
    fc
      .constantFrom("10.0.0.0/8", "10.0.0.0/24", "2001:db8::/32", "0.0.0.0/0", "::/0")
      .map((cidr) => ({ cidr })),
    fc
      .oneof(
        value,
        number,
        fc.array(value, { minLength: 1, maxLength: 3 }),
        fc.array(number, { minLength: 1, maxLength: 3 }),
        someStrings(fragment.filter((s) => s !== "")).map((prefix) => ({ prefix })),
        someStrings(fragment.filter((s) => s !== "")).map((suffix) => ({ suffix })),
        someStrings(cased).map((s) => ({ "equals-ignore-case": s })),
        someStrings(wildcardText).map((wildcard) => ({ wildcard })),
      )
      .map((arg) => ({ "anything-but": arg })),
  );
}

const paths: string[][] = [
  ["type"],
  ["streamid"],
  ["id"],
  ["streamversion"],
  ["position"],
  ["subject"],
  ["source"],
  ["specversion"],
  ["tier"],
  ["data", "n"],
  ["data", "s"],
  ["data", "ip"],
  ["data", "arr"],
  ["data", "nested", "a"],
  ["data", "nested", "objs", "b"],
  ["data", "nested", "objs", "c"],
];
const columnPaths = paths.slice(0, 5);
// Half the fields are attributes the SQL narrows on: that is where the two could disagree.
const field = fc
  .oneof(fc.constantFrom(...columnPaths), fc.constantFrom(...paths))
  .chain((path) =>
    fc.tuple(fc.constant(path), fc.array(matcherFor(path.join(".")), { minLength: 1, maxLength: 3 })),
  );

function build(fields: Array<[string[], unknown[]]>): Record<string, unknown> {
  const pattern: Record<string, unknown> = {};
  for (const [path, matchers] of fields) {
    let node = pattern;
    for (const key of path.slice(0, -1)) {
      if (typeof node[key] !== "object" || Array.isArray(node[key])) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path.at(-1)!] = matchers;
  }
  return pattern;
}

const conjunction = fc.array(field, { minLength: 1, maxLength: 3 }).map(build);
const pattern = fc.oneof(
  { weight: 2, arbitrary: conjunction },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.array(field, { maxLength: 2 }), fc.array(conjunction, { minLength: 2, maxLength: 3 }))
      .map(([fields, alternatives]) => ({ ...build(fields), $or: alternatives })),
  },
);

/** The pattern if it is valid; random combinations are sometimes not (e.g. "" as an anything-but prefix). */
function valid(candidate: unknown): EventPattern | undefined {
  try {
    return validateEventPattern(candidate);
  } catch {
    return undefined;
  }
}

describe("SQL narrowing of patterns against real Postgres", () => {
  let db: TestDatabase;
  let events: Array<{ position: number; json: unknown }>;

  beforeAll(async () => {
    db = await createTestDatabase();
    const sample = fc.sample(proposed, { numRuns: 150, seed: 12 });
    for (const [i, e] of sample.entries()) {
      await appendToStream(db.sql, e.streamId, [
        {
          // Caller ids with LIKE's special characters, and generated ones.
          ...(i % 3 === 0 ? { id: `id_${i}%${i % 7}` } : {}),
          type: e.type,
          data: e.data,
          ...(e.tier === undefined ? {} : { metadata: { tier: e.tier } }),
          ...(e.subject === undefined ? {} : { attributes: { subject: e.subject } }),
        },
      ]);
    }
    const positions = (await db.sql<{ position: number }[]>`select position from eventbus.events`).map(
      (r) => r.position,
    );
    const rows = await readForwardEvents(db.sql, positions);
    // Exactly what the listener matches: the CloudEvent JSON it sends.
    events = rows.map((row) => ({ position: row.position, json: JSON.parse(cloudEventJson(row, SOURCE)) }));
  });

  afterAll(async () => {
    await db?.close();
  });

  it("never drops an event that the TypeScript matcher accepts", async () => {
    expect(events.length).toBe(150);
    let narrowed = 0;
    let matchedSome = 0;
    await fc.assert(
      fc.asyncProperty(pattern, async (candidate) => {
        const p = valid(candidate);
        fc.pre(p !== undefined);
        const accepted = events.filter((e) => matchesEventPattern(p!, e.json)).map((e) => e.position);
        const rows = await db.sql<{ position: number }[]>`
          select position from eventbus.events where ${patternToSql(db.sql, p)}`;
        const inSql = new Set(rows.map((r) => Number(r.position)));
        const dropped = accepted.filter((position) => !inSql.has(Number(position)));
        expect(dropped, JSON.stringify(p)).toEqual([]);
        if (inSql.size < events.length) narrowed++;
        if (accepted.length > 0) matchedSome++;
      }),
      { numRuns: fuzzRuns(1500), seed: 42 },
    );
    // The test means something only if patterns both match events and let SQL narrow.
    expect(matchedSome).toBeGreaterThan(40);
    expect(narrowed).toBeGreaterThan(40);
  });
});
