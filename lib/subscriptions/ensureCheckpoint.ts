import type { Sql } from "postgres";

/**
 * Creates the checkpoint of an internal forwarder (e.g. the realtime fan-out) at the gap-safe head unless
 * it exists: on its first run it forwards only what is appended from then on (and what commits late).
 * Record a head probe first (see `probeHead`).
 */
export async function ensureCheckpoint(sql: Sql, name: string, lockId: number): Promise<void> {
  await sql`
    insert into eventbus.checkpoints (name, lock_id, position)
    select ${name}, ${lockId}, eventbus.safe_head()
    on conflict (name) do nothing`;
}
