import type { Sql } from "postgres";
import { globToLike } from "../auth/streamPatterns.ts";
import { limits } from "../limits.ts";
import { type EventRow, toRecordedEvent } from "./eventRow.ts";
import type { RecordedEvent } from "./types.ts";

export interface ReadAllOptions {
  /** Return events with a position strictly greater than this (default 0: from the beginning). */
  after?: number;
  limit?: number;
  type?: string;
  category?: string;
  /** Glob patterns (a token's `streams` claim): only events of matching streams are returned. */
  streamPatterns?: readonly string[];
}

export interface ReadAllResult {
  events: RecordedEvent[];
  /** The `after` of the next page, or `null` when this page reached the head of the log. */
  next: number | null;
}

/**
 * Reads all streams in global position order. Because appends are serialised (see the event-store
 * migration), every event below a visible position is visible too: paging by `after` never skips one.
 */
export async function readAll(sql: Sql, options: ReadAllOptions = {}): Promise<ReadAllResult> {
  const limit = options.limit ?? limits.defaultReadLimit;
  const after = options.after ?? 0;
  const likes = options.streamPatterns?.map(globToLike);
  const rows = await sql<EventRow[]>`
    select * from eventbus.events
    where position > ${after}
      ${options.type === undefined ? sql`` : sql`and type = ${options.type}`}
      ${options.category === undefined ? sql`` : sql`and category = ${options.category}`}
      ${likes === undefined ? sql`` : sql`and stream_id like any(${likes}::text[])`}
    order by position
    limit ${limit + 1}`;
  const more = rows.length > limit;
  const events = rows.slice(0, limit).map(toRecordedEvent);
  return { events, next: more ? (events.at(-1)?.position ?? null) : null };
}

/** The position of the newest event, or 0 when the store is empty. */
export async function readHeadPosition(sql: Sql): Promise<number> {
  const [row] = await sql<
    [{ head: number }]
  >`select coalesce(max(position), 0)::int8 as head from eventbus.events`;
  return row!.head;
}
