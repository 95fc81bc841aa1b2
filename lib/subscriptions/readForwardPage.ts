import type { PendingQuery, Row, Sql } from "postgres";
import { holdsOwnerLock } from "./ownership.ts";

/**
 * An event as the forwarder needs it: `data` and `metadata` stay JSON text as Postgres renders them, so
 * the listener never parses and re-serialises payloads it only passes on.
 */
export interface ForwardEvent {
  position: number;
  streamId: string;
  version: number;
  id: string;
  type: string;
  createdAt: Date;
  dataJson: string | null;
  metadataJson: string | null;
}

export interface ForwardPage {
  /** The position this page starts after: the stored checkpoint, or the `after` asked for. */
  after: number;
  /** The stored checkpoint and its generation (bumped by every replay). */
  checkpoint: number;
  generation: number;
  /** Whether the session `lockPid` still holds this checkpoint's ownership lock. */
  owned: boolean;
  /** Candidate events after the checkpoint, in position order (SQL part of the filter applied). */
  events: ForwardEvent[];
  /**
   * How far this page proves the log was scanned: the last event's position when the page is full, else
   * the end of the window it looked at, at most the gap-safe head seen by the same snapshot (see
   * `readSafeHead`): nothing at or below it can commit later, so no later read can find an event below this.
   */
  scannedThrough: number;
  /** Whether the log goes on past `scannedThrough` (a full page, or a window that ended before the head). */
  more: boolean;
  /** The gap-safe head this page's snapshot saw. */
  head: number;
  /** With `audience`: whether any topic was listened to in this page's snapshot (see `listened_topics`). */
  listened?: boolean;
}

/**
 * The most positions one page looks at. A filter whose SQL part matches rarely (a rare type, a field of the
 * data) would otherwise make one page query scan from the checkpoint to the head, however long the log:
 * a catch-up over millions of events would run into the statement timeout and never move. A page that
 * ends at the window moves the checkpoint there and the next one goes on.
 */
export const FORWARD_SCAN_WINDOW = 50_000;

interface ForwardEventRow {
  position: number | null;
  stream_id: string;
  version: number;
  id: string;
  type: string;
  created_at: Date;
  data_json: string | null;
  metadata_json: string | null;
}

interface PageRow extends ForwardEventRow {
  checkpoint: number;
  generation: number;
  owned: boolean;
  head: number;
  listened: boolean | null;
}

const toForwardEvent = (r: ForwardEventRow): ForwardEvent => ({
  position: r.position!,
  streamId: r.stream_id,
  version: r.version,
  id: r.id,
  type: r.type,
  createdAt: r.created_at,
  dataJson: r.data_json,
  metadataJson: r.metadata_json,
});

/** The events at these positions, in position order, as the forwarder sends them. */
export async function readForwardEvents(sql: Sql, positions: readonly number[]): Promise<ForwardEvent[]> {
  const rows = await sql<ForwardEventRow[]>`
    select position, stream_id, version, id, type, created_at, data::text as data_json,
      metadata::text as metadata_json
    from eventbus.events where position = any(${positions as number[]}::int8[])
    order by position`;
  return rows.map(toForwardEvent);
}

/**
 * Reads the next page for a forwarder in one round trip: its checkpoint, ownership, the gap-safe head and
 * up to `limit` events after the checkpoint, at or below that head, that pass `where`. Record a head probe
 * before (see `probeHead`) to see what committed since the last one. `undefined` when the checkpoint is gone (the
 * subscription was deleted).
 */
export async function readForwardPage(
  sql: Sql,
  options: {
    name: string;
    lockPid: number;
    limit: number;
    where: PendingQuery<Row[]>;
    /** Read after this position instead of the stored checkpoint (to prefetch the next page). */
    after?: number;
    /** The most positions to look at (default {@link FORWARD_SCAN_WINDOW}). */
    window?: number;
    /**
     * Whether to check that `lockPid` still holds the subscription's lock (default true). The check reads
     * `pg_locks`, a few hundred microseconds of server CPU; a forwarder that proved its ownership a moment
     * ago may skip it.
     */
    checkOwnership?: boolean;
    /** Also tell whether any topic is listened to (the realtime target's page). */
    audience?: boolean;
  },
): Promise<ForwardPage | undefined> {
  const after = options.after === undefined ? sql`c.position` : sql`${options.after}::int8`;
  const window = options.window ?? FORWARD_SCAN_WINDOW;
  const rows = await sql<PageRow[]>`
    select c.position as checkpoint, c.generation, h.head,
      ${options.checkOwnership === false ? sql`true` : holdsOwnerLock(sql, options.lockPid)} as owned,
      ${options.audience ? sql`exists (select 1 from eventbus.listened_topics)` : sql`null::bool`} as listened,
      e.position, e.stream_id, e.version, e.id, e.type, e.created_at, e.data_json, e.metadata_json
    from eventbus.checkpoints c
    cross join (select eventbus.safe_head() as head) h
    left join lateral (
      select position, stream_id, version, id, type, created_at, data::text as data_json,
        metadata::text as metadata_json
      from eventbus.events
      where position > ${after} and position <= least(h.head, ${after} + ${window}::int8) and ${options.where}
      order by position
      limit ${options.limit}
    ) e on true
    where c.name = ${options.name}`;
  const first = rows[0];
  if (!first) return undefined;
  const events: ForwardEvent[] = rows.filter((r) => r.position !== null).map(toForwardEvent);
  const full = events.length === options.limit;
  const start = options.after ?? first.checkpoint;
  const windowEnd = Math.max(start, Math.min(first.head, start + window));
  return {
    after: start,
    checkpoint: first.checkpoint,
    generation: first.generation,
    owned: first.owned,
    events,
    scannedThrough: full ? events.at(-1)!.position : windowEnd,
    more: full || windowEnd < first.head,
    head: first.head,
    ...(first.listened === null ? {} : { listened: first.listened }),
  };
}
