import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { toCloudEvent } from "../../lib/events/cloudEvent.ts";
import { readAll } from "../../lib/events/readAll.ts";
import { readStream } from "../../lib/events/readStream.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

/** What the events table holds for each event of a stream: SQL NULL (`absent`) or the JSON text. */
async function storedData(streamId: string) {
  const rows = await db.sql<{ type: string; absent: boolean; text: string | null }[]>`
    select type, data is null as absent, data::text as text from eventbus.events
    where stream_id = ${streamId} order by version`;
  return rows.map((r) => [r.type, r.absent ? "absent" : r.text]);
}

const events = [
  { type: "None" },
  { type: "Undefined", data: undefined },
  { type: "Null", data: null },
  { type: "Zero", data: 0 },
  { type: "Object", data: { a: null } },
];
const expected = [
  ["None", "absent"],
  ["Undefined", "absent"],
  ["Null", "null"],
  ["Zero", "0"],
  ["Object", '{"a": null}'],
];

describe("an event without data and one with data: null", () => {
  it("are stored apart: SQL NULL for no data, the JSON null for null, on every append path", async () => {
    await appendToStream(db.sql, "nodata-fresh", events);
    await appendToStream(db.sql, "nodata-single", [{ type: "None" }]);
    await appendToStream(db.sql, "nodata-single", [{ type: "Null", data: null }]);
    // Caller-chosen ids go through the PL/pgSQL function.
    await appendToStream(
      db.sql,
      "nodata-ids",
      events.map((event, i) => ({ ...event, id: `e-${i}` })),
    );
    await db.sql.begin((tx) => appendToStream(tx, "nodata-tx", events, { expectedVersion: "no_stream" }));
    for (const stream of ["nodata-fresh", "nodata-ids", "nodata-tx"]) {
      expect(await storedData(stream)).toEqual(expected);
    }
    expect(await storedData("nodata-single")).toEqual([
      ["None", "absent"],
      ["Null", "null"],
    ]);
  });

  it("read back apart, and leave the bus as CloudEvents with and without data", async () => {
    await appendToStream(db.sql, "nodata-read", events);
    const { events: read } = await readStream(db.sql, "nodata-read");
    expect(read.map((e) => "data" in e)).toEqual([false, false, true, true, true]);
    const emitted = read.map((e) => toCloudEvent(e, "urn:test"));
    expect(emitted[0]).not.toHaveProperty("data");
    expect(emitted[0]).not.toHaveProperty("datacontenttype");
    expect(emitted[2]).toMatchObject({ data: null, datacontenttype: "application/json" });
    expect(emitted[3]).toMatchObject({ data: 0, datacontenttype: "application/json" });

    const backward = await readStream(db.sql, "nodata-read", { direction: "backward" });
    expect(backward.events.map((e) => "data" in e)).toEqual([true, true, true, false, false]);

    const all = await readAll(db.sql, { limit: 1000 });
    const mine = all.events.filter((e) => e.streamId === "nodata-read");
    expect(mine.map((e) => "data" in e)).toEqual([false, false, true, true, true]);
    // The filtered read (a pattern, checked in TypeScript on the emitted CloudEvent) sees the same.
    const withoutData = await readAll(db.sql, {
      limit: 1000,
      filter: { pattern: { streamid: ["nodata-read"], data: [{ exists: false }] }, source: "urn:test" },
    });
    // `exists` looks at leaf values, as in EventBridge: null and 0 are leaves, an object is not.
    expect(withoutData.events.map((e) => e.type)).toEqual(["None", "Undefined", "Object"]);
    const withData = await readAll(db.sql, {
      limit: 1000,
      filter: { pattern: { streamid: ["nodata-read"], data: [{ exists: true }] }, source: "urn:test" },
    });
    expect(withData.events.map((e) => e.type)).toEqual(["Null", "Zero"]);
    const nullData = await readAll(db.sql, {
      limit: 1000,
      filter: { pattern: { streamid: ["nodata-read"], data: [null] }, source: "urn:test" },
    });
    expect(nullData.events.map((e) => e.type)).toEqual(["Null"]);
  });

  it("keep a datacontenttype their producer set, even without data", async () => {
    await appendToStream(db.sql, "nodata-ct", [
      { type: "T", attributes: { source: "urn:p", datacontenttype: "application/vnd.x+json" } },
    ]);
    const [event] = (await readStream(db.sql, "nodata-ct")).events;
    const emitted = toCloudEvent(event!);
    expect(emitted.datacontenttype).toBe("application/vnd.x+json");
    expect(emitted).not.toHaveProperty("data");
  });

  it("leave events stored before as they read before: data null with the default datacontenttype", async () => {
    // Until now an event appended without data was stored as the JSON null (validateEvents turned
    // undefined into null); such rows cannot be told from data: null and keep reading as it.
    await db.sql`
      select eventbus.append_to_stream('nodata-old', 'any',
        '[{"id": "old-1", "type": "Old", "data": null, "metadata": null}]'::jsonb, true, false, null)`;
    const [event] = (await readStream(db.sql, "nodata-old")).events;
    expect(toCloudEvent(event!, "urn:test")).toMatchObject({
      data: null,
      datacontenttype: "application/json",
    });
  });
});
