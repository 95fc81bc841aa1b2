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

/**
 * The realtime target's check while it sleeps (nobody listens to any topic). When a topic has been marked
 * since, its checkpoint `name` moves up to the lowest head a mark recorded (migration 0016) and this returns
 * true: the target resumes there. Every event at or below that head committed before its topic was marked,
 * so before any subscription was acknowledged; every event above it is read as usual. With `advanceIdle`
 * and still no topic, the checkpoint moves up to the gap-safe head instead (take a head probe first), so
 * that the target's lag does not grow while it sleeps: an event at or below that head committed before this
 * statement's snapshot, which saw no topic marked, so before any mark it could not see was committed and
 * acknowledged. The checkpoint never moves back, whoever writes it.
 */
export async function resumeWhenListened(sql: Sql, name: string, advanceIdle: boolean): Promise<boolean> {
  const [row] = await sql<[{ listened: boolean }?]>`
    update eventbus.checkpoints c
    set position = greatest(c.position, coalesce(t.head, eventbus.safe_head())), updated_at = now()
    from (select min(head) as head from eventbus.listened_topics) t
    where c.name = ${name} and (t.head is not null or ${advanceIdle}::bool)
      and (select set_config('synchronous_commit', 'off', true)) is not null
    returning t.head is not null as listened`;
  return row?.listened ?? false;
}
