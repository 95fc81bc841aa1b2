import type { Sql } from "postgres";

/**
 * Delivery lag in seconds of each named checkpoint: how long ago the oldest event past its checkpoint was
 * appended (0 when nothing is past it). Like the lag in events it is an upper bound when a filter skips the
 * oldest pending events, and it reads one index entry per subscription.
 */
export async function readLagSeconds(sql: Sql, names: readonly string[]): Promise<Map<string, number>> {
  if (names.length === 0) return new Map();
  const rows = await sql<{ name: string; lag: number | null }[]>`
    select c.name,
      extract(epoch from now() - (
        select e.created_at from eventbus.events e where e.position > c.position order by e.position limit 1
      ))::float8 as lag
    from eventbus.checkpoints c
    where c.name = any(${names as string[]}::text[])`;
  return new Map(rows.map((r) => [r.name, Math.max(0, r.lag ?? 0)]));
}
