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

/**
 * The gap-safe head: the highest position at or below which every event is visible now or never will be.
 * Below the newest position while a transaction that began earlier is still open. Use it as the starting
 * point "from now on" (a subscription's `current`), so that an event committing late is not skipped.
 */
export async function readSafeHead(sql: Sql): Promise<number> {
  await probeHead(sql);
  const [row] = await sql<[{ head: number }]>`select eventbus.safe_head() as head`;
  return row!.head;
}
