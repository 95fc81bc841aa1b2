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
 * Streams in id order, one keyset page at a time, so browsing stays fast however many streams there are:
 * each page is an index range scan on the primary key.
 */
export async function listStreams(sql: Sql, options: ListStreamsOptions): Promise<StreamPage> {
  const patterns = options.streamPatterns?.includes("*") ? undefined : options.streamPatterns;
  const rows = await sql<{ stream_id: string; version: number; created_at: Date; updated_at: Date | null }[]>`
    select s.stream_id, e.version, s.created_at, e.created_at as updated_at
    from (
      select stream_id, created_at from eventbus.streams
      where true
        ${options.prefix ? sql`and stream_id like ${`${likeLiteral(options.prefix)}%`}` : sql``}
        ${options.category ? sql`and split_part(stream_id, '-', 1) = ${options.category}` : sql``}
        ${options.after ? sql`and stream_id > ${options.after}` : sql``}
        ${patterns ? sql`and stream_id like any(${patterns.map(globToLike)}::text[])` : sql``}
      order by stream_id
      limit ${options.limit + 1}
    ) s
    -- A stream's version and last update are its newest event's (as getStream reads them).
    cross join lateral (
      select version, created_at from eventbus.events where stream_id = s.stream_id
      order by version desc limit 1) e
    order by s.stream_id`;
  const more = rows.length > options.limit;
  const page = more ? rows.slice(0, options.limit) : rows;
  return {
    streams: page.map((r) => ({
      streamId: r.stream_id,
      category: r.stream_id.split("-", 1)[0]!,
      version: Number(r.version),
      createdAt: r.created_at.toISOString(),
      updatedAt: (r.updated_at ?? r.created_at).toISOString(),
    })),
    next: more ? page.at(-1)!.stream_id : null,
  };
}
