import type { Sql } from "postgres";

/**
 * WAL held back by each logical replication slot of this database, in bytes: what change capture still
 * has to read. Postgres keeps that WAL on disk until the slot confirms it, so a stalled capture fills the
 * disk; this is the figure behind the `CaptureSlotLagBytes` metric and alarm. Empty without slots, or when
 * the role may not read the WAL position (the alarm then sees no data rather than a false zero).
 */
export async function readSlotLag(sql: Sql): Promise<Map<string, number>> {
  try {
    const rows = await sql<{ slot_name: string; lag: string | null }[]>`
      select slot_name, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::int8::text as lag
      from pg_replication_slots
      where database = current_database() and slot_type = 'logical'`;
    return new Map(rows.filter((r) => r.lag !== null).map((r) => [r.slot_name, Number(r.lag)]));
  } catch {
    return new Map();
  }
}
