import type { Sql } from "postgres";
import { globToLike } from "../auth/streamPatterns.ts";
import { limits } from "../limits.ts";
import { matchesEventPattern } from "../patterns/matchPattern.ts";
import { patternToSql } from "../patterns/patternToSql.ts";
import type { EventPattern } from "../patterns/validatePattern.ts";
import { toCloudEvent } from "./cloudEvent.ts";
import { type EventRow, eventColumns, toRecordedEvent } from "./eventRow.ts";
import { probeHead, SETTLE_DELAYS_MS } from "./readSafeHead.ts";
import type { RecordedEvent } from "./types.ts";

export interface ReadAllOptions {
  /** Return events with a position strictly greater than this (default 0: from the beginning). */
  after?: number;
  limit?: number;
  /**
   * Only events of this type, or of any of these types. Types are not indexed: a page looks at no more than
   * {@link MAX_FILTER_SCAN} positions and may end with fewer than `limit` events and a `next`.
   */
  type?: string | readonly string[];
  /** Only events of this category, or of any of these categories. */
  category?: string | readonly string[];
  /** Glob patterns (a token's `streams` claim): only events of matching streams are returned. */
  streamPatterns?: readonly string[];
  /**
   * Only events whose CloudEvent (as `toCloudEvent` emits it with this `source`) matches the EventBridge
   * pattern, exactly as a subscription with that filter would receive them.
   */
  filter?: { pattern: EventPattern; source: string };
}

export interface ReadAllResult {
  events: RecordedEvent[];
  /**
   * The `after` of the next page, or `null` when this page reached the head of the log. With a `filter` or
   * a `type`, a page that looked at {@link MAX_FILTER_SCAN} positions ends there, perhaps with fewer events
   * than `limit` (even none): `next` then says where to go on.
   */
  next: number | null;
}

/**
 * The most positions one read by `filter` or `type` looks at. A pattern or a type that matches rarely must
 * not turn one request into a scan of the whole log: the page ends and `next` carries on from there.
 */
export const MAX_FILTER_SCAN = 5000;
const FILTER_BATCH = 500;

const list = (value: string | readonly string[]) => (typeof value === "string" ? [value] : [...value]);

/**
 * Reads all streams in global position order, up to the gap-safe head (see `readSafeHead`): an event that
 * commits late always has a position above every page already returned, so paging by `after` never skips
 * one. When the safe head trails the newest committed event, it records a head probe and, while
 * transactions that began earlier are still finishing, re-reads for up to ~60 ms, so that a caller
 * normally sees what it committed before calling. (A probe takes a transaction id; when the listener's
 * probes already cover everything committed, as on a busy bus, readers make none.) A transaction held
 * open longer holds back what follows it, and the page simply ends before it.
 */
export async function readAll(sql: Sql, options: ReadAllOptions = {}): Promise<ReadAllResult> {
  const [{ head, newest }] = await sql<[{ head: number; newest: number }]>`
    select eventbus.safe_head() as head,
      (select coalesce(max(position), 0) from eventbus.events)::int8 as newest`;
  if (head >= newest) return (await readAllPage(sql, options, head)).result;
  const probed = await probeHead(sql);
  for (const delay of SETTLE_DELAYS_MS) {
    const page = await readAllPage(sql, options);
    if (page.result.next !== null || page.safeHead >= probed) return page.result;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  return (await readAllPage(sql, options)).result;
}

/**
 * The stream condition of a token's `streams` patterns: patterns without a wildcard compare with `=`, which
 * the `(stream_id, version)` index answers, so a stream's history never scans the log between its events.
 */
function streamCondition(sql: Sql, patterns: readonly string[] | undefined) {
  if (patterns === undefined) return sql``;
  const exact = patterns.filter((pattern) => !/[*?]/.test(pattern));
  const globs = patterns.filter((pattern) => /[*?]/.test(pattern)).map(globToLike);
  if (globs.length === 0) return sql`and stream_id = any(${exact}::text[])`;
  if (exact.length === 0) return sql`and stream_id like any(${globs}::text[])`;
  return sql`and (stream_id = any(${exact}::text[]) or stream_id like any(${globs}::text[]))`;
}

async function readAllPage(sql: Sql, options: ReadAllOptions, knownHead?: number) {
  const limit = options.limit ?? limits.defaultReadLimit;
  const head = knownHead ?? (await sql<[{ head: number }]>`select eventbus.safe_head() as head`)[0]!.head;
  const filter = options.filter;
  // The SQL part of the pattern only narrows (see patternToSql); every row is checked in TypeScript below.
  const narrowing = filter ? patternToSql(sql, filter.pattern) : sql`true`;
  const read = (after: number, count: number, upTo: number) => sql<EventRow[]>`
    select ${eventColumns(sql)} from eventbus.events
    where position > ${after} and position <= ${upTo}
      ${options.type === undefined ? sql`` : sql`and type = any(${list(options.type)}::text[])`}
      ${options.category === undefined ? sql`` : sql`and category = any(${list(options.category)}::text[])`}
      ${streamCondition(sql, options.streamPatterns)}
      and ${narrowing}
    order by position
    limit ${count}`;

  // Types have no index (appends pay for every index) and patterns are checked here: such a page looks at
  // one window of positions, so a rare match never turns one request into a scan of the whole log.
  if (!filter && options.type === undefined) {
    const rows = await read(options.after ?? 0, limit + 1, head);
    const more = rows.length > limit;
    const events = rows.slice(0, limit).map(toRecordedEvent);
    return { safeHead: head, result: { events, next: more ? (events.at(-1)?.position ?? null) : null } };
  }

  const events: RecordedEvent[] = [];
  let after = options.after ?? 0;
  const end = Math.min(head, after + MAX_FILTER_SCAN);
  const next = (position: number) => (position >= head ? null : position);
  for (;;) {
    const rows = await read(after, FILTER_BATCH, end);
    for (const row of rows) {
      const event = toRecordedEvent(row);
      after = event.position;
      if (filter && !matchesEventPattern(filter.pattern, toCloudEvent(event, filter.source))) continue;
      events.push(event);
      if (events.length === limit) return { safeHead: head, result: { events, next: next(after) } };
    }
    if (rows.length < FILTER_BATCH) return { safeHead: head, result: { events, next: next(end) } };
  }
}

/**
 * The position of the newest committed event, or 0 when the store is empty. A transaction still open may
 * commit below it: to start reading "from now on", use `readSafeHead`.
 */
export async function readHeadPosition(sql: Sql): Promise<number> {
  const [row] = await sql<
    [{ head: number }]
  >`select coalesce(max(position), 0)::int8 as head from eventbus.events`;
  return row!.head;
}
