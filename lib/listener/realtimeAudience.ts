import type { Sql } from "postgres";
import { listenedTopics } from "../realtime/listenedTopics.ts";
import { topicsOfStream } from "../realtime/topic.ts";

/**
 * The events of a page that some WebSocket connection may receive live: those with a topic (their
 * stream, their category or `$all`) marked as listened to (`listenedTopics.ts`). Only these go to the
 * fan-out queue, so an event nobody listens to costs one indexed lookup per page, in the same Postgres,
 * instead of an SQS message, a broadcaster invocation and the broadcaster's reads.
 *
 * Why skipping cannot lose a live event:
 * - Subscribing marks the topic before it is acknowledged, and this lookup runs after the page was read,
 *   so after its events committed. An event committed after an acknowledgement finds the mark.
 * - An event skipped here committed before its topic was marked, so before the membership was
 *   acknowledged. A subscription with `from` reads its history after writing its membership, and the
 *   gap-safe head only moves forward: the history contains every such event (see `seam.ts`).
 *
 * @returns the events to send, in their order.
 */
export async function eventsWithAudience<E extends { streamId: string }>(
  sql: Sql,
  events: readonly E[],
): Promise<E[]> {
  if (events.length === 0) return [];
  const topicsOf = events.map((event) => topicsOfStream(event.streamId));
  const listened = await listenedTopics(sql, [...new Set(topicsOf.flat())]);
  if (listened.has("$all")) return [...events];
  return events.filter((_, i) => topicsOf[i]!.some((topic) => listened.has(topic)));
}
