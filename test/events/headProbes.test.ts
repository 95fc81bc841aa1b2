import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { probeHead, readSafeHead } from "../../lib/events/readSafeHead.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

describe("head probes (migration 0015)", () => {
  it("name the head before the first append, then every append's position, and the table stays small", async () => {
    expect(await probeHead(db.sql)).toBe(0);
    let last = 0;
    for (let i = 0; i < 300; i++) {
      const appended = await appendToStream(db.sql, `probes-${i % 7}`, [{ type: "T" }]);
      last = appended.events[0]!.position;
      expect(await probeHead(db.sql)).toBe(last);
    }
    // Pruned in one probe of eight (by transaction id): a few stale rows between prunes, never hundreds.
    const [{ rows }] = await db.sql<
      [{ rows: number }]
    >`select count(*)::int as rows from eventbus.head_probes`;
    expect(rows).toBeLessThan(100);
    expect(await readSafeHead(db.sql)).toBe(last);
  });

  it("never vouch for a position of a transaction still running, and pass it once it commits", async () => {
    const before = (await appendToStream(db.sql, "probes-held", [{ type: "T" }])).events[0]!.position;
    await probeHead(db.sql);
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let heldAt = 0;
    const held = db.sql.begin(async (tx) => {
      heldAt = (await appendToStream(tx, "probes-held", [{ type: "T" }])).events[0]!.position;
      await released;
    });
    while (heldAt === 0) await new Promise((r) => setTimeout(r, 5));
    const after = (await appendToStream(db.sql, "probes-other", [{ type: "T" }])).events[0]!.position;
    expect(await probeHead(db.sql)).toBe(after);
    const [{ head }] = await db.sql<[{ head: number }]>`select eventbus.safe_head() as head`;
    expect(head).toBeGreaterThanOrEqual(before);
    expect(head).toBeLessThan(heldAt);
    release();
    await held;
    await probeHead(db.sql);
    expect(await readSafeHead(db.sql)).toBe(after);
  });
});
