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
  /** How many streams the page may walk past (default {@link MAX_STREAMS_SCANNED}). */
  maxScanned?: number;
}

export interface StreamPage {
  streams: StreamSummary[];
  /** The cursor of the next page, or `null` on the last one. */
  next: string | null;
}

const likeLiteral = (text: string) => text.replace(/[\\%_]/g, "\\$&");

/**
 * How many streams one page may walk past. Without filters a page walks `limit + 1` streams; with them, a
 * filter that matches few streams would otherwise walk every stream in one request.
 */
export const MAX_STREAMS_SCANNED = 10_000;

/**
 * Streams in id order, one keyset page at a time. A stream is its events (migration 0012), so the page walks
 * the `(stream_id, version)` index one stream at a time (a loose index scan: one index descent per stream),
 * keeping those the filters take until the page is full, or until it walked {@link MAX_STREAMS_SCANNED}
 * streams: such a page may hold fewer than `limit` (even none), with `next` to carry on.
 */
export async function listStreams(sql: Sql, options: ListStreamsOptions): Promise<StreamPage> {
  const patterns = options.streamPatterns?.includes("*") ? undefined : options.streamPatterns;
  const maxScanned = options.maxScanned ?? MAX_STREAMS_SCANNED;
  const rows = await sql<
    { stream_id: string; n: number; hit: boolean; version: number; created_at: Date; updated_at: Date }[]
  >`
    with recursive ids(stream_id, n) as (
      (select stream_id, 1 from eventbus.events
        ${options.after ? sql`where stream_id > ${options.after}` : sql``}
        order by stream_id limit 1)
      union all
      select (select e.stream_id from eventbus.events e where e.stream_id > ids.stream_id
              order by e.stream_id limit 1), ids.n + 1
      from ids where ids.stream_id is not null and ids.n < ${maxScanned}
    ),
    visited as (
      select stream_id, n, (true
        ${options.prefix ? sql`and stream_id like ${`${likeLiteral(options.prefix)}%`}` : sql``}
        ${options.category ? sql`and split_part(stream_id, '-', 1) = ${options.category}` : sql``}
        ${patterns ? sql`and stream_id like any(${patterns.map(globToLike)}::text[])` : sql``}
      ) as hit
      from ids where stream_id is not null
    ),
    -- The streams kept, and the last one walked if the walk stopped there (where the next page starts).
    page as (
      select stream_id, n, hit from visited where hit or n = ${maxScanned}
      limit ${options.limit + 1}
    )
    select p.stream_id, p.n, p.hit, newest.version, first.created_at, newest.created_at as updated_at
    from page p
    -- A stream's version and last update are its newest event's, its creation its first's (as getStream).
    left join lateral (
      select version, created_at from eventbus.events where stream_id = p.stream_id and p.hit
      order by version desc limit 1) newest on true
    left join lateral (
      select created_at from eventbus.events where stream_id = p.stream_id and p.hit
      order by version limit 1) first on true
    order by p.stream_id`;
  const kept = rows.filter((row) => row.hit);
  const more = kept.length > options.limit;
  const page = more ? kept.slice(0, options.limit) : kept;
  const last = rows.at(-1);
  const next = more
    ? page.at(-1)!.stream_id
    : last !== undefined && last.n === maxScanned
      ? last.stream_id
      : null;
  return {
    streams: page.map((r) => ({
      streamId: r.stream_id,
      category: r.stream_id.split("-", 1)[0]!,
      version: Number(r.version),
      createdAt: r.created_at.toISOString(),
      updatedAt: r.updated_at.toISOString(),
    })),
    next,
  };
}
