import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { readStream } from "../../lib/events/readStream.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

/** Every event of the stream, in version order. */
async function allEvents(streamId: string) {
  const page = await readStream(db.sql, streamId, { limit: 10_000 });
  return page.events;
}

/**
 * Writers of one stream meet in its `(stream_id, version)` index, whichever way they append: a plain
 * autocommit append (bus-generated ids), the function (caller-chosen ids), or inside a caller's transaction.
 */
const paths = {
  plain: (streamId: string, n: number, expectedVersion?: number | "any" | "no_stream") =>
    appendToStream(
      db.sql,
      streamId,
      Array.from({ length: n }, () => ({ type: "Plain" })),
      { expectedVersion },
    ),
  callerIds: (streamId: string, n: number, expectedVersion?: number | "any" | "no_stream") =>
    appendToStream(
      db.sql,
      streamId,
      Array.from({ length: n }, () => ({ id: crypto.randomUUID(), type: "Ids" })),
      { expectedVersion },
    ),
  transaction: (streamId: string, n: number, expectedVersion?: number | "any" | "no_stream") =>
    db.sql.begin(async (tx) => {
      await tx`select pg_sleep(random() * 0.005)`;
      const result = await appendToStream(
        tx,
        streamId,
        Array.from({ length: n }, () => ({ type: "Tx" })),
        { expectedVersion },
      );
      await tx`select pg_sleep(random() * 0.005)`;
      return result;
    }),
};
const pathNames = Object.keys(paths) as Array<keyof typeof paths>;

describe("concurrent appends to one stream", () => {
  it("with expectedVersion any: all succeed, each batch contiguous, versions 1..n with no gap or repeat", async () => {
    const streamId = "race-any";
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => paths[pathNames[i % 3]!](streamId, 1 + (i % 4))),
    );
    const total = results.reduce((sum, r) => sum + r.events.length, 0);
    const events = await allEvents(streamId);
    expect(events.map((e) => e.version)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    // Each append's events are consecutive versions in its batch order, with increasing positions.
    for (const result of results) {
      const versions = result.events.map((e) => e.version);
      expect(versions).toEqual(versions.map((_, i) => versions[0]! + i));
      const positions = result.events.map((e) => e.position);
      expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    }
    // What each append returned is what is stored.
    const stored = new Map(events.map((e) => [e.position, e.version]));
    for (const e of results.flatMap((r) => r.events)) expect(stored.get(e.position)).toBe(e.version);
  });

  it("with the same expected version: exactly one wins, the others get WRONG_EXPECTED_VERSION", async () => {
    for (const [round, expected] of [
      [0, "no_stream"],
      [1, 2],
      [2, 4],
    ] as const) {
      const streamId = "race-exact";
      const outcomes = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => paths[pathNames[(i + round) % 3]!](streamId, 2, expected)),
      );
      const won = outcomes.filter((o) => o.status === "fulfilled");
      expect(won).toHaveLength(1);
      for (const lost of outcomes.filter((o) => o.status === "rejected")) {
        expect(lost.reason).toMatchObject({
          code: "WRONG_EXPECTED_VERSION",
          details: { actualVersion: round * 2 + 2 },
        });
      }
    }
    expect((await allEvents("race-exact")).map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("a conflict inside a caller's transaction does not abort it", async () => {
    const streamId = "race-outbox";
    await appendToStream(db.sql, streamId, [{ type: "First" }]);
    const outcome = await db.sql.begin(async (tx) => {
      // The transaction reads version 1, then another writer appends before this one does.
      await tx`select 1`;
      await appendToStream(db.sql, streamId, [{ type: "Other" }]);
      const refused = await appendToStream(tx, streamId, [{ type: "Mine" }], { expectedVersion: 1 }).catch(
        (error: unknown) => error,
      );
      // Still usable: the transaction goes on and commits its other work.
      const appended = await appendToStream(tx, streamId, [{ type: "Mine" }]);
      return { refused, appended };
    });
    expect(outcome.refused).toMatchObject({ code: "WRONG_EXPECTED_VERSION", details: { actualVersion: 2 } });
    expect(outcome.appended.version).toBe(3);
    expect((await allEvents(streamId)).map((e) => e.type)).toEqual(["First", "Other", "Mine"]);
  });

  it("one of many concurrent sends of the same CloudEvents appends it; the others are its idempotent retries", async () => {
    const streamId = "race-same-ids";
    await appendToStream(db.sql, streamId, [{ type: "Before" }]);
    const batch = [
      { id: "same-1", type: "Same", attributes: { source: "urn:race" } },
      { id: "same-2", type: "Same", attributes: { source: "urn:race" } },
    ];
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        appendToStream(db.sql, streamId, batch, { expectedVersion: i % 2 === 0 ? 1 : "any" }),
      ),
    );
    expect(outcomes.filter((o) => o.created)).toHaveLength(1);
    const events = outcomes.find((o) => o.created)!.events;
    for (const outcome of outcomes) expect(outcome.events).toEqual(events);
    expect((await allEvents(streamId)).map((e) => [e.type, e.version])).toEqual([
      ["Before", 1],
      ["Same", 2],
      ["Same", 3],
    ]);
  });
});
