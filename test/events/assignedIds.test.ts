import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sql } from "../../lib/db/client.ts";
import { migrate } from "../../lib/db/migrate.ts";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import {
  assignedEventId,
  hasAssignedIdForm,
  newAssignedIdPrefix,
} from "../../lib/events/assignedEventIds.ts";
import { readStream } from "../../lib/events/readStream.ts";
import { createDatabaseAtMigration, createTestDatabase, type TestDatabase } from "../support/database.ts";

/** RFC 9562's UUIDv7 layout: version nibble 7, variant bits 10. */
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

/** The stored ids of a stream, in version order. */
const storedIds = async (stream: string) => (await readStream(db.sql, stream)).events.map((e) => e.id);

describe("ids the bus assigns", () => {
  it("are time-ordered UUIDv7s that carry the event's position, as stored, on every append path", async () => {
    const before = Date.now();
    const batch = await appendToStream(db.sql, "assigned-1", [{ type: "A" }, { type: "B" }, { type: "C" }]);
    const single = await appendToStream(db.sql, "assigned-1", [{ type: "D" }]);
    const inTransaction = await db.sql.begin((tx) =>
      appendToStream(tx, "assigned-1", [{ type: "E" }, { type: "F" }]),
    );
    const appended = [...batch.events, ...single.events, ...inTransaction.events];
    expect(await storedIds("assigned-1")).toEqual(appended.map((e) => e.id));
    for (const event of appended) {
      expect(event.id).toMatch(UUID_V7);
      expect(hasAssignedIdForm(event.id)).toBe(true);
      expect(Number.parseInt(event.id.slice(-12), 16)).toBe(event.position);
      const millis = Number.parseInt(event.id.slice(0, 8) + event.id.slice(9, 13), 16);
      expect(millis).toBeGreaterThanOrEqual(before);
      expect(millis).toBeLessThanOrEqual(Date.now());
    }
    expect(new Set(appended.map((e) => e.id)).size).toBe(appended.length);
    // None of them takes an entry in the identity index.
    const [flags] = await db.sql<[{ assigned: number; total: number }]>`
      select count(*) filter (where id_assigned)::int as assigned, count(*)::int as total
      from eventbus.events where stream_id = 'assigned-1'`;
    expect(flags).toEqual({ assigned: 6, total: 6 });
  });

  it("are built the same by the client and the database, up to the largest position", async () => {
    const prefix = newAssignedIdPrefix();
    for (const position of [1, 255, 4096, 2 ** 32 + 7, 2 ** 48 - 1]) {
      const [row] = await db.sql<[{ id: string; back: string }]>`
        select eventbus.assigned_event_id(${prefix}, ${position}) as id,
          eventbus.assigned_event_position(eventbus.assigned_event_id(${prefix}, ${position}))::text as back`;
      expect(row!.id).toBe(assignedEventId(prefix, position));
      expect(row!.back).toBe(String(position));
    }
    const [other] = await db.sql<[{ position: string | null }]>`
      select eventbus.assigned_event_position('0190a5b2-1c3d-7abc-8def-0123456789ab') as position`;
    expect(other!.position).toBeNull();
    // One more position would need a 13th hex digit: the sequence stops before.
    const [sequence] = await db.sql<[{ max: string }]>`
      select max_value::text as max from pg_sequences where schemaname = 'eventbus' and sequencename = 'event_position'`;
    expect(sequence!.max).toBe(String(2 ** 48 - 1));
  });

  it("make a retry that re-sends them a success that appends nothing, alone or in a transaction", async () => {
    const first = await appendToStream(db.sql, "assigned-2", [{ type: "A" }, { type: "B" }]);
    const resent = first.events.map((e, i) => ({ id: e.id, type: ["A", "B"][i]! }));
    const retry = await appendToStream(db.sql, "assigned-2", resent);
    expect(retry).toMatchObject({ created: false, version: 2, events: first.events });
    const single = await appendToStream(db.sql, "assigned-2", [resent[1]!]);
    expect(single).toMatchObject({ created: false, events: [first.events[1]] });
    const inTransaction = await db.sql.begin((tx) => appendToStream(tx, "assigned-2", resent));
    expect(inTransaction).toMatchObject({ created: false, events: first.events });
    // Re-sent with a new event, or in another batch than the one it came in: a duplicate, as for chosen ids.
    await expect(
      appendToStream(db.sql, "assigned-2", [resent[0]!, { id: "new-one", type: "C" }]),
    ).rejects.toMatchObject({ code: "DUPLICATE_EVENT_ID", details: { ids: [first.events[0]!.id] } });
    expect(await storedIds("assigned-2")).toEqual(first.events.map((e) => e.id));
  });

  it("are another event's identity in another stream or under another source", async () => {
    const [event] = (await appendToStream(db.sql, "assigned-3", [{ type: "A" }])).events;
    const elsewhere = await appendToStream(db.sql, "assigned-4", [{ id: event!.id, type: "A" }]);
    expect(elsewhere).toMatchObject({ created: true, events: [{ id: event!.id, version: 1 }] });
    const sourced = await appendToStream(db.sql, "assigned-3", [
      { id: event!.id, type: "A", attributes: { source: "urn:elsewhere" } },
    ]);
    expect(sourced).toMatchObject({ created: true, version: 2 });
  });

  it("leave an id of their form the bus never gave an ordinary chosen id, appended once however many send it at once", async () => {
    const [other] = (await appendToStream(db.sql, "assigned-5", [{ type: "A" }])).events;
    // Two ids of the assigned form (one naming the position of another stream's event, one naming no
    // event) and an ordinary chosen id.
    const ids = [other!.id, assignedEventId(newAssignedIdPrefix(), 2 ** 40), "chosen-once"];
    // Rounds of writers that all send it at once, alone or in transactions of their own: each round's
    // writers meet in the unique indexes before any commits, and none may fail for it.
    for (let round = 0; round < 10; round++) {
      for (const [i, id] of ids.entries()) {
        const stream = `assigned-6-${round}-${i}`;
        const outcomes = await Promise.all(
          Array.from({ length: 8 }, (_, writer) =>
            writer % 2 === 0
              ? appendToStream(db.sql, stream, [{ id, type: "Lookalike" }])
              : db.sql.begin((tx) => appendToStream(tx, stream, [{ id, type: "Lookalike" }])),
          ),
        );
        expect(outcomes.filter((o) => o.created)).toHaveLength(1);
        expect(new Set(outcomes.map((o) => o.events[0]!.position)).size).toBe(1);
        expect(await storedIds(stream)).toEqual([id]);
      }
    }
  });
});

describe("migration 0019 (assigned ids)", () => {
  let old: Sql;
  beforeAll(async () => {
    old = await createDatabaseAtMigration(18);
    // Stored before: a chosen id, one of the assigned form (then an ordinary id), and one the bus generated.
    const batch = [
      { id: "chosen-1", type: "Old" },
      { id: "0190a5b2-1c3d-7b05-8def-000000000001", type: "Old" },
      { id: "0190a5b2-1c3d-7abc-8def-0123456789ab", type: "Old" },
    ];
    await old`select eventbus.append_to_stream('old-1', 'any', ${old.json(batch as never)}, true, false)`;
    await migrate(old);
  });
  afterAll(() => old.end({ timeout: 5 }));

  it("keeps the identity of every event stored before: each retry appends nothing", async () => {
    const stored = (await readStream(old, "old-1")).events;
    for (const event of stored) {
      const retry = await appendToStream(old, "old-1", [{ id: event.id, type: "Old" }]);
      expect(retry).toMatchObject({ created: false, events: [{ id: event.id, position: event.position }] });
    }
    const fresh = await appendToStream(old, "old-1", [{ type: "New" }]);
    expect(fresh.events[0]!.id).toMatch(UUID_V7);
    expect((await readStream(old, "old-1")).version).toBe(4);
    expect(await old`select 1 from pg_proc where proname = 'append_to_stream' and pronargs = 5`).toHaveLength(
      0,
    );
  });
});
