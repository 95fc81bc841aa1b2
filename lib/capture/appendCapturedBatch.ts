import type { Sql } from "postgres";
import { newAssignedIdPrefix } from "../events/assignedEventIds.ts";
import { EVENTS_CHANNEL } from "../events/wakeListeners.ts";

/** WAL positions read inside the batch's transaction, before its commit. */
export interface BatchWal {
  /** `pg_current_wal_insert_lsn()`: past the commit of every batch that committed before this one. */
  inserted: string;
  /** `pg_current_wal_flush_lsn()`: how far the WAL is on disk. */
  flushed: string;
}

/** What the capture's progress row records with a batch. */
export interface BatchProgress {
  /** The slot whose progress row is locked, checked and advanced. */
  slot: string;
  /** The commit LSN of the batch's last source transaction. */
  lastLsn: string;
  /** When that transaction committed at the source. */
  lastCommittedAt: Date;
  /** Rows stored as refusals in this batch: the last becomes the capture's `lastError`. */
  refusals: readonly string[];
}

/**
 * Appends a batch of captured changes and records the capture's progress, in one statement (one round
 * trip, one transaction): the events of many source transactions, each change in its own stream.
 *
 * `batchJson` is a JSON array in the source's commit order of `{streamId, lsn, ...event}`: the event as the
 * store takes it (`{id, type, metadata, data}` or `"noData": true`, see validateEvents) with its stream and
 * its source transaction's commit LSN. The statement:
 *
 * 1. locks the capture's progress row (and so takes the transaction id, before any position is drawn:
 *    the gap safety of migration 0003), and skips every item whose source transaction committed at or
 *    below the LSN recorded there: a retry after a commit whose reply was lost, or a reader that lost the
 *    slot while retrying, appends nothing twice;
 * 2. inserts the rest with one `INSERT ... SELECT`: each event's version is its stream's last version (read
 *    from the `(stream_id, version)` index, as committed when the statement began) plus its rank among the
 *    batch's events of that stream; positions are drawn in the batch's order (volatile expressions are
 *    evaluated after the sort); `category` and `source` are filled as every append fills them (migration
 *    0012), and each event gets the id its position completes (migration 0019);
 * 3. wakes listeners with one NOTIFY, and records the batch's last commit LSN (never moving it back);
 * 4. commits without waiting for its WAL flush (`synchronous_commit` off for this transaction only): the
 *    caller confirms the slot past the batch only once the WAL is flushed beyond its commit.
 *
 * Another writer appending to one of the batch's streams at the same time makes the statement fail with a
 * unique violation on `events_stream_version_key` (see {@link isStreamRace}); nothing of it is kept, and
 * running it again reads the other writer's versions. Returns `undefined` when the slot has no progress row
 * yet (nothing was appended).
 */
export async function appendCapturedBatch(
  sql: Sql,
  batchJson: string,
  progress: BatchProgress,
): Promise<BatchWal | undefined> {
  const { slot, refusals } = progress;
  const [row] = await sql<[BatchWal?]>`
    with progress as materialized (
      select applied_lsn, pg_current_xact_id() as xid
      from eventbus.capture_progress where slot = ${slot} for update
    ),
    fresh as materialized (
      select item.*, row_number() over (partition by item.stream_id order by item.ord) as rank
      from progress,
        -- One pass turns each item into a row (JSON null becomes SQL NULL: "noData" tells them apart).
        rows from (jsonb_to_recordset(${batchJson}::text::jsonb) as ("streamId" text, lsn pg_lsn, id text,
          type text, metadata jsonb, data jsonb, "noData" bool))
        with ordinality as item(stream_id, lsn, id, type, metadata, data, no_data, ord)
      -- Referencing the transaction id keeps it (an unused, merely stable output would be planned away).
      where progress.xid is not null and item.lsn > progress.applied_lsn
    ),
    appended as (
      insert into eventbus.events
        (position, stream_id, version, id, type, data, metadata, category, source, id_assigned)
      select n.position, n.stream_id, n.version,
        coalesce(n.id, eventbus.assigned_event_id(${newAssignedIdPrefix()}, n.position)), n.type, n.data,
        n.metadata, split_part(n.stream_id, '-', 1), coalesce(n.metadata->>'source', ''), n.id is null
      from (
        select nextval('eventbus.event_position') as position, f.stream_id,
          (select coalesce(max(e.version), 0) from eventbus.events e where e.stream_id = f.stream_id) + f.rank
            as version,
          f.id, f.type, case when f.no_data then null else coalesce(f.data, 'null'::jsonb) end as data, f.metadata
        from fresh f
        order by f.ord
      ) n
      returning position
    ),
    woken as (
      select pg_notify(${EVENTS_CHANNEL}, max(position)::text) from appended having count(*) > 0
    )
    update eventbus.capture_progress p set
      applied_lsn = greatest(p.applied_lsn, ${progress.lastLsn}::pg_lsn),
      source_committed_at = ${progress.lastCommittedAt},
      applied_at = now(),
      last_error = coalesce(${refusals.at(-1) ?? null}, p.last_error),
      last_error_at = coalesce(${refusals.length > 0 ? new Date() : null}::timestamptz, p.last_error_at)
    where p.slot = ${slot}
      and (select count(*) from woken) >= 0
      and set_config('synchronous_commit', 'off', true) = 'off'
    returning pg_current_wal_insert_lsn()::text as inserted, pg_current_wal_flush_lsn()::text as flushed`;
  return row;
}

/** The unique violation of an append that met another writer of one of its streams (see appendFresh). */
export function isStreamRace(error: unknown): boolean {
  const { code, constraint_name } = error as { code?: string; constraint_name?: string };
  return code === "23505" && constraint_name === "events_stream_version_key";
}
