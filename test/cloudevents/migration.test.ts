import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sql } from "../../lib/db/client.ts";
import { migrate } from "../../lib/db/migrate.ts";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { toCloudEvent } from "../../lib/events/cloudEvent.ts";
import { readStream } from "../../lib/events/readStream.ts";
import { createDatabaseAtMigration } from "../support/database.ts";
import { parseStrict } from "./conformance.ts";

let sql: Sql;
beforeAll(async () => {
  // A database stopped at migration 3, holding events appended the way the bus stored them until then.
  sql = await createDatabaseAtMigration(3);
  const old = [
    { id: "plain-nested", type: "A", data: 1, metadata: { traceId: "t-1", nested: { x: [1, 2] } } },
    { id: "plain-scalar", type: "A", data: 2, metadata: { tenant: "acme", attempt: 2, sampled: true } },
    // A structured CloudEvent, as 0003-era parsing stored it: its attributes in metadata.
    { id: "ce-1", type: "B", data: 3, metadata: { source: "/shop", traceparent: "00-x" } },
    { id: "big", type: "A", data: 4, metadata: { n: 3_000_000_000 } },
    { id: "empty", type: "A", data: 5, metadata: {} },
    { id: "none", type: "A", data: 6 },
  ];
  await sql`select eventbus.append_to_stream('old-1', 'any', ${sql.json(old as never)}, true, false)`;
  expect(await migrate(sql)).toContain(4);
});
afterAll(() => sql.end({ timeout: 5 }));

describe("migration 0004 (CloudEvents identity and attributes)", () => {
  it("keeps what old events carried, every one a valid CloudEvent", async () => {
    const { events } = await readStream(sql, "old-1");
    const emitted = events.map((e) => toCloudEvent(e, "urn:bus"));
    for (const event of emitted) parseStrict(event);
    const byId = Object.fromEntries(emitted.map((e) => [e.id, e]));

    // An object that is not all valid extensions is kept whole, as JSON text in `metadata`.
    expect(JSON.parse(byId["plain-nested"]!.metadata as string)).toEqual({
      traceId: "t-1",
      nested: { x: [1, 2] },
    });
    expect(JSON.parse(byId["ce-1"]!.metadata as string)).toEqual({ source: "/shop", traceparent: "00-x" });
    expect(JSON.parse(byId.big!.metadata as string)).toEqual({ n: 3_000_000_000 });
    // One that is reads as those extensions, as a new append would.
    expect(byId["plain-scalar"]).toMatchObject({ tenant: "acme", attempt: 2, sampled: true });
    expect(byId["plain-scalar"]).not.toHaveProperty("metadata");
    for (const id of ["empty", "none"]) expect(Object.keys(byId[id]!)).not.toContain("metadata");
    // The bus's defaults, as before.
    for (const event of emitted) expect(event).toMatchObject({ source: "urn:bus", subject: "old-1" });
  });

  it("keeps their identity: re-sending an old event is still an idempotent success", async () => {
    const result = await appendToStream(sql, "old-1", [{ id: "plain-nested", type: "A", data: 1 }]);
    expect(result).toMatchObject({ created: false, version: 6 });
    const other = await appendToStream(sql, "old-1", [
      { id: "plain-nested", type: "A", attributes: { source: "urn:elsewhere" } },
    ]);
    expect(other).toMatchObject({ created: true, version: 7 });
  });
});
