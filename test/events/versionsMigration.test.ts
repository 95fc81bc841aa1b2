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
