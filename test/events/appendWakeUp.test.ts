import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSql, type Sql } from "../../lib/db/client.ts";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { readStream } from "../../lib/events/readStream.ts";
import { EVENTS_CHANNEL } from "../../lib/events/wakeListeners.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
let listenerSql: Sql;
beforeAll(async () => {
  db = await createTestDatabase();
  listenerSql = createSql(db.url, { max: 1 });
});
afterAll(async () => {
  await listenerSql.end();
  await db.close();
});

/** Wake-ups as a listener receives them: the position each names and when it arrived. */
async function listen() {
  const wakeUps: Array<{ position: number; at: number }> = [];
  const { unlisten } = await listenerSql.listen(EVENTS_CHANNEL, (payload) => {
    wakeUps.push({ position: Number(payload), at: performance.now() });
  });
  return { wakeUps, unlisten };
}

const waitFor = async (condition: () => boolean, ms: number) => {
  const until = performance.now() + ms;
  while (!condition() && performance.now() < until) await new Promise((r) => setTimeout(r, 2));
  return condition();
};

describe("waking the listeners after appends", () => {
  it("wakes them right after a lone append, naming its position", async () => {
    const { wakeUps, unlisten } = await listen();
    const appended = await appendToStream(db.sql, "lone-1", [{ type: "A" }, { type: "B" }]);
    const last = appended.events.at(-1)!.position;
    expect(await waitFor(() => wakeUps.some((w) => w.position >= last), 2_000)).toBe(true);
    await unlisten();
  });

  it("keeps waking them while many writers append without pause, and covers the last commit", async () => {
    const { wakeUps, unlisten } = await listen();
    const started = performance.now();
    // Long enough that a busy CI machine (2 cores, other suites running) still shows the first wake-up well
    // before the writers stop: it failed at 420 ms against a 400 ms bound in an 800 ms run.
    const until = started + 1500;
    let last = 0;
    let appends = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; performance.now() < until; i++) {
          const result = await appendToStream(db.sql, `busy-${w}-${i}`, [{ type: "Busy" }]);
          last = Math.max(last, result.events[0]!.position);
          appends++;
        }
      }),
    );
    const stopped = performance.now();
    expect(await waitFor(() => wakeUps.some((w) => w.position >= last), 2_000)).toBe(true);
    // No writer ever waits for a pause that never comes: wake-ups arrive all along, not only at the end.
    const during = wakeUps.filter((w) => w.at < stopped);
    expect(during.length).toBeGreaterThan(1);
    expect(during[0]!.at - started).toBeLessThan(750);
    expect(wakeUps.length).toBeLessThanOrEqual(appends);
    await unlisten();
  });

  it("sends one writer appending back to back fewer NOTIFYs than appends, and covers its last commit", async () => {
    const { wakeUps, unlisten } = await listen();
    const started = performance.now();
    const until = started + 1000;
    let last = 0;
    let appends = 0;
    while (performance.now() < until) {
      const result = await appendToStream(db.sql, `solo-${appends}`, [{ type: "Solo" }]);
      last = result.events[0]!.position;
      appends++;
    }
    const stopped = performance.now();
    expect(await waitFor(() => wakeUps.some((w) => w.position >= last), 2_000)).toBe(true);
    const during = wakeUps.filter((w) => w.at < stopped);
    // Wake-ups keep coming while the writer appends (one window at most after each commit)...
    expect(during.length).toBeGreaterThan(1);
    // ...but at most one per 4 ms window, not one per append: an append that ends soon after a NOTIFY waits
    // for the next window. (On a loaded machine whose appends take longer than a window, that is one each.)
    expect(during.length).toBeLessThanOrEqual(Math.ceil((stopped - started) / 4) + 2);
    await unlisten();
  });

  it("does not hold the wake-up of earlier commits back behind an append that waits for a lock", async () => {
    const { wakeUps, unlisten } = await listen();
    // An open transaction holds stream held-1's next version: appends to it wait until it ends.
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let appendedInTx!: () => void;
    const inTx = new Promise<void>((resolve) => {
      appendedInTx = resolve;
    });
    const holder = db.sql.begin(async (tx) => {
      await appendToStream(tx, "held-1", [{ type: "Held" }]);
      appendedInTx();
      await released;
    });
    await inTx;
    const waiting = [appendToStream(db.sql, "held-1", [{ type: "Waits" }])];
    const appended = await appendToStream(db.sql, "free-1", [{ type: "Free" }]);
    const position = appended.events[0]!.position;
    // Once the wake-up for free-1 is due, the next append to start carries it in its own statement; that
    // append waits for the lock too. The wake-up must come anyway, long before the lock is released.
    await new Promise((resolve) => setTimeout(resolve, 6));
    waiting.push(appendToStream(db.sql, "held-1", [{ type: "Waits" }]));
    const woken = await waitFor(() => wakeUps.some((w) => w.position >= position), 1_500);
    release();
    await holder;
    await Promise.all(waiting);
    expect(woken).toBe(true);
    expect((await readStream(db.sql, "held-1")).version).toBe(3);
    await unlisten();
  });

  it("refuses a wrong expected version inside a caller's transaction without spoiling it", async () => {
    await appendToStream(db.sql, "tx-ev-1", [{ type: "A" }]);
    const outcome = await db.sql.begin(async (tx) => {
      const refusals = [];
      for (const [events, expectedVersion] of [
        [[{ type: "X" }], 5],
        [[{ type: "X" }], "no_stream"],
        [[{ id: "caller-1", type: "X" }], 5],
      ] as const) {
        refusals.push(
          await appendToStream(tx, "tx-ev-1", events, { expectedVersion }).then(
            () => "appended",
            (error: { code?: string; details?: unknown }) => ({ code: error.code, details: error.details }),
          ),
        );
      }
      const appended = await appendToStream(tx, "tx-ev-1", [{ type: "B" }], { expectedVersion: 1 });
      return { refusals, appended };
    });
    for (const refusal of outcome.refusals) {
      expect(refusal).toMatchObject({ code: "WRONG_EXPECTED_VERSION", details: { actualVersion: 1 } });
    }
    expect(outcome.appended.version).toBe(2);
    const page = await readStream(db.sql, "tx-ev-1");
    expect(page.events.map((e) => e.type)).toEqual(["A", "B"]);
  });

  it("refuses an expected version that is no version number", async () => {
    for (const expectedVersion of [-1, 1.5, Number.NaN]) {
      await expect(
        appendToStream(db.sql, "bad-ev-1", [{ type: "A" }], { expectedVersion }),
      ).rejects.toMatchObject({ code: "VALIDATION_FAILED", details: { parameter: "expectedVersion" } });
    }
    await expect(readStream(db.sql, "bad-ev-1")).rejects.toMatchObject({ code: "STREAM_NOT_FOUND" });
  });
});
