import type { RealtimeTable } from "../realtime/table.ts";
import { topicsOfStream } from "../realtime/topic.ts";
import { readDirectory } from "../realtime/topicDirectory.ts";

/**
 * The events of a page that some WebSocket connection may receive live: those with a topic (their
 * stream, their category or `$all`) listed in the realtime topic directory with a shard that may have
 * members. Only these go to the fan-out queue, so an event nobody listens to costs one strongly
 * consistent directory read per page (a BatchGetItem per 100 distinct topics) instead of an SQS message,
 * a broadcaster invocation and the broadcaster's reads.
 *
 * Why skipping cannot lose a live event:
 * - Subscribing lists the member's shard before it is acknowledged, and this read runs after the page was
 *   read, so after its events committed. An event committed after an acknowledgement finds the listing.
 * - An event skipped here committed before its topic was listed, so before the membership existed. A
 *   subscription with `from` reads its history after writing its membership, and the gap-safe head only
 *   moves forward: the history contains every such event (see `seam.ts`).
 *
 * @returns the events to send, in their order.
 */
export async function eventsWithAudience<E extends { streamId: string }>(
  table: RealtimeTable,
  events: readonly E[],
): Promise<E[]> {
  if (events.length === 0) return [];
  const topicsOf = events.map((event) => topicsOfStream(event.streamId));
  const directory = await readDirectory(table, [...new Set(topicsOf.flat())]);
  const listened = (topic: string) => (directory.get(topic)?.shards.length ?? 0) > 0;
  if (listened("$all")) return [...events];
  return events.filter((_, i) => topicsOf[i]!.some(listened));
}
