import type { Sql } from "postgres";

/**
 * Records a head probe (see the migration `0003_concurrentAppends`) in a transaction of its own and returns
 * the position it vouches for once it is safe. A read that follows it with `eventbus.safe_head()` sees
 * everything committed before the probe, unless a transaction of this database that began earlier is
 * still open.
 */
export async function probeHead(sql: Sql): Promise<number> {
  const [row] = await sql<[{ head: number }]>`select eventbus.probe_head() as head`;
  return row!.head;
}

/** Pauses between reads of a probe not yet safe: about 60 ms in all (also `readAll`'s). */
export const SETTLE_DELAYS_MS = [2, 4, 8, 16, 32];

/**
 * The gap-safe head: the highest position at or below which every event is visible now or never will be.
 * Use it as the starting point "from now on" (a subscription's `current`), so that an event committing late
 * is not skipped. It waits up to ~60 ms for transactions that began before the call (appends in flight), so
 * that it is the head as of the call; past that, it is the head below the oldest of them still open.
 */
export async function readSafeHead(sql: Sql): Promise<number> {
  const probed = await probeHead(sql);
  const safeHead = async () => (await sql<[{ head: number }]>`select eventbus.safe_head() as head`)[0]!.head;
  for (const delay of SETTLE_DELAYS_MS) {
    const head = await safeHead();
    if (head >= probed) return head;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  return safeHead();
}
