import type { Sql } from "postgres";
import { slotNameSql } from "./captureNames.ts";

/** What `GET /captures/{name}` shows. */
export interface CaptureStatus {
  name: string;
  table: string;
  keyColumns: string[];
  /** `default` (the primary key), `full`, `index` or `nothing`: how much of `old` the WAL carries. */
  replicaIdentity: "default" | "full" | "index" | "nothing" | null;
  slot: string;
  /** Whether a listener is reading the slot right now. */
  active: boolean;
  /** The slot's confirmed position: Postgres may recycle WAL before it. */
  confirmedLsn: string | null;
  /** The commit LSN of the last source transaction whose events are in the store. */
  appliedLsn: string | null;
  /** WAL the slot holds back, in bytes. */
  lagBytes: number;
  /**
   * 0 when the slot is caught up; else seconds since the newer of the last applied source commit and the
   * last moment the reader had nothing left to apply.
   */
  lagSeconds: number;
  /** `reserved`/`extended`: fine; `unreserved`: about to lose WAL; `lost`: max_slot_wal_keep_size was exceeded. */
  walStatus: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
  createdAt: string;
}

const identities = { d: "default", f: "full", i: "index", n: "nothing" } as const;

/** Every capture's status (or one capture's, by name), with the slot's lag. */
export async function readCaptureStatuses(sql: Sql, name?: string): Promise<CaptureStatus[]> {
  const rows = await sql<
    Array<
      Omit<CaptureStatus, "replicaIdentity" | "lagBytes" | "lagSeconds"> & {
        identity: keyof typeof identities | null;
        lagBytes: string | null;
        lagSeconds: number | null;
      }
    >
  >`
    with slot as (select ${sql.unsafe(slotNameSql)} as name)
    select c.name, c.table_schema || '.' || c.table_name as table, c.key_columns as "keyColumns",
           cl.relreplident::text as identity, slot.name as slot, coalesce(s.active, false) as active,
           s.confirmed_flush_lsn::text as "confirmedLsn", p.applied_lsn::text as "appliedLsn",
           pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::text as "lagBytes",
           case when s.confirmed_flush_lsn is null or pg_current_wal_lsn() <= s.confirmed_flush_lsn then 0
                else extract(epoch from now() - greatest(p.idle_at, p.source_committed_at, c.created_at))::float8
           end as "lagSeconds",
           s.wal_status as "walStatus", p.last_error as "lastError", p.last_error_at as "lastErrorAt",
           c.created_at as "createdAt"
    from eventbus.captures c
    cross join slot
    left join pg_replication_slots s on s.slot_name = slot.name
    left join eventbus.capture_progress p on p.slot = slot.name
    left join pg_class cl on cl.oid = to_regclass(quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))
    where ${name === undefined ? sql`true` : sql`c.name = ${name}`}
    order by c.name`;
  return rows.map(({ identity, lagBytes, lagSeconds, lastErrorAt, createdAt, ...row }) => ({
    ...row,
    replicaIdentity: identity ? identities[identity] : null,
    lagBytes: Math.max(0, Number(lagBytes ?? 0)),
    lagSeconds: Math.max(0, Math.round((lagSeconds ?? 0) * 1000) / 1000),
    lastErrorAt: lastErrorAt ? new Date(lastErrorAt).toISOString() : null,
    createdAt: new Date(createdAt).toISOString(),
  }));
}
