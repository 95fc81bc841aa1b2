import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { readAll } from "../../lib/events/readAll.ts";
import { readStream } from "../../lib/events/readStream.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

/** Reads `$all` from a checkpoint the way the listener does, until `until` resolves. */
async function followAll(until: Promise<unknown>): Promise<number[]> {
  const seen: number[] = [];
  let checkpoint = 0;
  let done = false;
  void until.finally(() => {
    done = true;
  });
  for (;;) {
    const finished = done;
    const page = await readAll(db.sql, { after: checkpoint, limit: 50 });
    for (const event of page.events) seen.push(event.position);
    checkpoint = page.events.at(-1)?.position ?? checkpoint;
    if (finished && page.next === null) return seen;
    if (page.events.length === 0) await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe("gap safety of $all", () => {
  it("never lets a checkpoint reader skip a transaction that commits after later appends were attempted", async () => {
    const before = await appendToStream(db.sql, "gap-0", [{ type: "Before" }]);
    let releaseSlow!: () => void;
    const slowMayCommit = new Promise<void>((resolve) => {
      releaseSlow = resolve;
    });
    let slowAppended!: () => void;
    const slowHasAppended = new Promise<void>((resolve) => {
      slowAppended = resolve;
    });

    // A caller's transaction appends, then stays open doing other work.
    const slow = db.sql.begin(async (tx) => {
      await appendToStream(tx, "gap-slow", [{ type: "Slow" }]);
      slowAppended();
      await slowMayCommit;
    });
    await slowHasAppended;

    // Later appends from other connections are attempted while it is open.
    const fast = Promise.all(
      Array.from({ length: 5 }, (_, i) => appendToStream(db.sql, `gap-fast-${i}`, [{ type: "Fast" }])),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const whileOpen = await readAll(db.sql, { after: before.events[0]!.position });
    // Nothing after the open transaction is visible yet, so a reader cannot move its checkpoint past it.
    expect(whileOpen.events).toEqual([]);

    releaseSlow();
    await slow;
    const fastResults = await fast;
    const slowPosition = (await readStream(db.sql, "gap-slow")).events[0]!.position;
    for (const result of fastResults) expect(result.events[0]!.position).toBeGreaterThan(slowPosition);
    const after = await readAll(db.sql, { after: before.events[0]!.position });
    expect(after.events.map((e) => e.streamId)[0]).toBe("gap-slow");
    expect(after.events).toHaveLength(6);
  });

  it("delivers every event exactly once to a follower while writers hold transactions open at random", async () => {
    const start = (await readAll(db.sql, { limit: 1000 })).events.length;
    const writers = Promise.all(
      Array.from({ length: 8 }, (_, w) =>
        (async () => {
          for (let i = 0; i < 15; i++) {
            await db.sql.begin(async (tx) => {
              await appendToStream(tx, `race-${w}`, [{ type: "E", data: { w, i } }]);
              // Keep the transaction open for a while after appending, like an outbox caller.
              if (i % 3 === 0) await tx`select pg_sleep(${Math.random() * 0.01})`;
            });
          }
        })(),
      ),
    );
    const seen = await followAll(writers);
    expect(seen).toHaveLength(8 * 15 + start);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
  });
});

describe("concurrent writers", () => {
  it("lets exactly one of N writers win each version of one stream", async () => {
    const writers = 12;
    const rounds = 5;
    const winners: number[][] = [];
    for (let version = 0; version < rounds; version++) {
      const results = await Promise.allSettled(
        Array.from({ length: writers }, (_, w) =>
          appendToStream(db.sql, "contended-1", [{ type: "Claim", data: { w } }], {
            expectedVersion: version,
          }),
        ),
      );
      const won = results.filter((r) => r.status === "fulfilled");
      const lost = results.filter((r) => r.status === "rejected");
      expect(won).toHaveLength(1);
      for (const loss of lost)
        expect((loss as PromiseRejectedResult).reason.code).toBe("WRONG_EXPECTED_VERSION");
      winners.push(won.map((r) => (r as PromiseFulfilledResult<any>).value.version));
    }
    expect(winners.flat()).toEqual([1, 2, 3, 4, 5]);
    const stream = await readStream(db.sql, "contended-1");
    expect(stream.events.map((e) => e.version)).toEqual([1, 2, 3, 4, 5]);
  });

  it("keeps every event of many writers on many streams exactly once in $all", async () => {
    const before = (await readAll(db.sql, { limit: 1000 })).events.at(-1)?.position ?? 0;
    await Promise.all(
      Array.from({ length: 20 }, (_, s) =>
        (async () => {
          for (let i = 0; i < 10; i++)
            await appendToStream(db.sql, `many-${s}`, [{ type: "E" }, { type: "E" }]);
        })(),
      ),
    );
    // Readers stop at the gap-safe head, which can trail a moment behind while other transactions on the
    // server are still open: every event shows up, exactly once, once they end.
    await expect
      .poll(async () => (await readAll(db.sql, { after: before, limit: 1000 })).events.length)
      .toBe(400);
    const all = await readAll(db.sql, { after: before, limit: 1000 });
    expect(all.events).toHaveLength(400);
    expect(new Set(all.events.map((e) => e.id)).size).toBe(400);
    for (let s = 0; s < 20; s++) {
      const versions = all.events.filter((e) => e.streamId === `many-${s}`).map((e) => e.version);
      expect(versions).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    }
  });
});
