import type { PendingQuery, Row, Sql } from "postgres";

/**
 * The page condition of the realtime target: events that some WebSocket connection may receive live,
 * those with a topic (their stream, their category or `$all`, as `topicsOfStream` names them) marked as
 * listened to (`lib/realtime/listenedTopics.ts`). Only these are read and sent to the fan-out queue, so an
 * event nobody listens to costs three index probes inside the page query, instead of an SQS message, a
 * broadcaster invocation and the broadcaster's reads.
 *
 * Why skipping cannot lose a live event:
 * - Subscribing marks the topic before it is acknowledged, and an event committed after that
 *   acknowledgement is read by a page whose snapshot is later than its commit, so the mark is visible.
 * - An event skipped here committed before its topic was marked, so before the membership was
 *   acknowledged. A subscription with `from` reads its history after writing its membership, and the
 *   gap-safe head only moves forward: the history contains every such event (see `seam.ts`).
 */
export function hasLiveAudience(sql: Sql): PendingQuery<Row[]> {
  return sql`exists (
    select 1 from eventbus.listened_topics t
    where t.topic in ('stream:' || stream_id, 'category:' || category, '$all'))`;
}
