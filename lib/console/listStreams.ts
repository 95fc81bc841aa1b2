import type { Sql } from "postgres";
import { globToLike } from "../auth/streamPatterns.ts";

/** A stream as the streams listing shows it. */
export interface StreamSummary {
  streamId: string;
  category: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface ListStreamsOptions {
  /** Only stream ids starting with this text (matched literally: `%` and `_` are not wildcards). */
  prefix?: string;
  /** Only streams of this category (the part of the id before the first `-`). */
  category?: string;
  /** Keyset cursor: only stream ids after this one, in id order. */
  after?: string;
  limit: number;
  /** A token's `streams` globs: streams outside them are not listed. */
  streamPatterns?: readonly string[];
}

export interface StreamPage {
  streams: StreamSummary[];
  /** The cursor of the next page, or `null` on the last one. */
  next: string | null;
}

const likeLiteral = (text: string) => text.replace(/[\\%_]/g, "\\$&");

/**
 * Streams in id order, one keyset page at a time. A stream is its events (migration 0012), so the page walks
 * the `(stream_id, version)` index one stream at a time (a loose index scan: one index descent per stream),
 * keeping those the filters take until the page is full.
 */
export async function listStreams(sql: Sql, options: ListStreamsOptions): Promise<StreamPage> {
  const patterns = options.streamPatterns?.includes("*") ? undefined : options.streamPatterns;
  const rows = await sql<{ stream_id: string; version: number; created_at: Date; updated_at: Date }[]>`
    with recursive ids(stream_id) as (
      (select stream_id from eventbus.events
        ${options.after ? sql`where stream_id > ${options.after}` : sql``}
        order by stream_id limit 1)
      union all
      select (select e.stream_id from eventbus.events e where e.stream_id > ids.stream_id
              order by e.stream_id limit 1)
      from ids where ids.stream_id is not null
    )
    select s.stream_id, newest.version, first.created_at, newest.created_at as updated_at
    from (
      select stream_id from ids
      where stream_id is not null
        ${options.prefix ? sql`and stream_id like ${`${likeLiteral(options.prefix)}%`}` : sql``}
        ${options.category ? sql`and split_part(stream_id, '-', 1) = ${options.category}` : sql``}
        ${patterns ? sql`and stream_id like any(${patterns.map(globToLike)}::text[])` : sql``}
      limit ${options.limit + 1}
    ) s
    -- A stream's version and last update are its newest event's, its creation its first's (as getStream).
    cross join lateral (
      select version, created_at from eventbus.events where stream_id = s.stream_id
      order by version desc limit 1) newest
    cross join lateral (
      select created_at from eventbus.events where stream_id = s.stream_id
      order by version limit 1) first
    order by s.stream_id`;
  const more = rows.length > options.limit;
  const page = more ? rows.slice(0, options.limit) : rows;
  return {
    streams: page.map((r) => ({
      streamId: r.stream_id,
      category: r.stream_id.split("-", 1)[0]!,
      version: Number(r.version),
      createdAt: r.created_at.toISOString(),
      updatedAt: r.updated_at.toISOString(),
    })),
    next: more ? page.at(-1)!.stream_id : null,
  };
}
