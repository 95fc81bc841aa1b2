import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listStreams } from "../../lib/console/listStreams.ts";
import type { Sql } from "../../lib/db/client.ts";
import { migrate } from "../../lib/db/migrate.ts";
import { migrations } from "../../lib/db/migrations/index.ts";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { getStream } from "../../lib/events/getStream.ts";
import { readStream } from "../../lib/events/readStream.ts";
import { createDatabaseAtMigration } from "../support/database.ts";

let sql: Sql;
beforeAll(async () => {
  // A database stopped at migration 9, whose streams' versions lived in eventbus.streams.
  sql = await createDatabaseAtMigration(9);
  // Appended the way 0009 did: the stream row holds the version.
  for (const [stream, count] of [
    ["old-1", 3],
    ["old-2", 1],
  ] as const) {
    const batch = Array.from({ length: count }, (_, i) => ({ id: `${stream}-${i}`, type: "Old" }));
    await sql`select eventbus.append_to_stream(${stream}, 'any', ${sql.json(batch as never)}, true, false)`;
  }
  // A CloudEvent (its source among the stored attributes), while `source` and `category` were generated.
  const sourced = [{ id: "ce-1", type: "Old", metadata: { source: "urn:old" } }];
  await sql`select eventbus.append_to_stream('old-3', 'any', ${sql.json(sourced as never)}, true, false)`;
  expect(await migrate(sql)).toEqual(migrations.filter((m) => m.id > 9).map((m) => m.id));
});
afterAll(() => sql.end({ timeout: 5 }));

describe("migration 0010 (a stream's version is its newest event's)", () => {
  it("keeps every stream's version, listing and expected-version checks", async () => {
    expect((await readStream(sql, "old-1")).version).toBe(3);
    expect((await getStream(sql, "old-2")).version).toBe(1);
    const page = await listStreams(sql, { limit: 10 });
    expect(page.streams.map((s) => [s.streamId, s.version])).toEqual([
      ["old-1", 3],
      ["old-2", 1],
      ["old-3", 1],
    ]);
    await expect(
      appendToStream(sql, "old-1", [{ type: "New" }], { expectedVersion: 2 }),
    ).rejects.toMatchObject({
      code: "WRONG_EXPECTED_VERSION",
      details: { actualVersion: 3 },
    });
    const appended = await appendToStream(sql, "old-1", [{ type: "New" }], { expectedVersion: 3 });
    expect(appended.version).toBe(4);
    // An old stream's retry of events it already holds is still an idempotent success.
    const retry = await appendToStream(sql, "old-2", [{ id: "old-2-0", type: "Old" }]);
    expect(retry).toMatchObject({ created: false, version: 1 });
  });
});

describe("migration 0012 (appends write the event rows only)", () => {
  it("keeps the category and source of events stored while they were generated, and fills them for new ones", async () => {
    const fresh = await appendToStream(sql, "old-4", [{ type: "New" }, { type: "New" }]);
    const sourced = await appendToStream(sql, "old-3", [
      { id: "ce-2", type: "New", attributes: { source: "urn:new" } },
    ]);
    const rows = await sql<{ stream_id: string; id: string; category: string; source: string }[]>`
      select stream_id, id, category, source from eventbus.events order by position`;
    expect(rows.every((row) => row.category === "old")).toBe(true);
    expect(rows.filter((row) => row.source !== "").map((row) => [row.id, row.source])).toEqual([
      ["ce-1", "urn:old"],
      ["ce-2", "urn:new"],
    ]);
    // The identity an old CloudEvent was stored under still makes its retry a success that appends nothing.
    const retry = await appendToStream(sql, "old-3", [
      { id: "ce-1", type: "Old", attributes: { source: "urn:old" } },
    ]);
    expect(retry).toMatchObject({ created: false, events: [{ id: "ce-1", version: 1 }] });
    expect(sourced.version).toBe(2);
    // Streams are their events: the old streams and the new one, with their first event's creation time.
    const page = await listStreams(sql, { limit: 2, category: "old", after: "old-2" });
    expect(page.streams.map((s) => [s.streamId, s.version])).toEqual([
      ["old-3", 2],
      ["old-4", 2],
    ]);
    expect(page.next).toBeNull();
    const info = await getStream(sql, "old-4");
    expect(info.createdAt.getTime()).toBeLessThanOrEqual(info.updatedAt.getTime());
    expect(fresh.events.map((e) => e.version)).toEqual([1, 2]);
    expect(
      await sql`select 1 from pg_tables where schemaname = 'eventbus' and tablename = 'streams'`,
    ).toHaveLength(0);
  });
});

describe("migration 0017 (the events' text compares as bytes)", () => {
  it("keeps every event, and a stream prefix is a range of the version index", async () => {
    const columns = await sql<{ column_name: string; collation_name: string }[]>`
      select column_name, collation_name from information_schema.columns
      where table_schema = 'eventbus' and table_name = 'events' and data_type = 'text'
      order by column_name`;
    expect(columns.map((c) => [c.column_name, c.collation_name])).toEqual([
      ["category", "C"],
      ["id", "C"],
      ["source", "C"],
      ["stream_id", "C"],
      ["type", "C"],
    ]);
    // The events stored before it are all there, found by their stream and by their identity.
    expect((await readStream(sql, "old-1")).events.map((e) => e.id)).toEqual([
      "old-1-0",
      "old-1-1",
      "old-1-2",
      expect.any(String),
    ]);
    const retry = await appendToStream(sql, "old-1", [{ id: "old-1-1", type: "Old" }]);
    expect(retry).toMatchObject({ created: false, events: [{ id: "old-1-1", version: 2 }] });
    // Under a language collation `LIKE 'old-%'` cannot use a plain index; in byte order it is a range of it.
    const plan = await sql.begin(async (tx) => {
      await tx`set local enable_seqscan = off`;
      return tx<{ "QUERY PLAN": string }[]>`
        explain select position from eventbus.events where stream_id like 'old-%'`;
    });
    expect(plan.map((row) => row["QUERY PLAN"]).join("\n")).toMatch(
      /Index Cond: \(\(stream_id >= 'old-'::text\) AND \(stream_id < 'old\.'::text\)\)/,
    );
    expect(await sql`select 1 from pg_proc where proname = 'append_many'`).toHaveLength(0);
  });
});
