import { metrics } from "../metrics/registry.ts";
import { type BroadcastDeps, broadcast, TransientPostError } from "./broadcast.ts";
import type { FanoutMessage } from "./fanoutMessage.ts";
import { parseFanoutMessage } from "./parseFanoutMessage.ts";

/**
 * Broadcasts a batch of fan-out queue messages and returns the ids of those that failed (to be retried by
 * SQS). Event batches and publishes go out in the order the queue gave them; hand-offs from other
 * invocations (parts of a large topic, independent of each other) go out alongside, all at once.
 */
export async function broadcastBatch(
  deps: BroadcastDeps,
  records: ReadonlyArray<{
    messageId: string;
    body: string;
    attributes?: { ApproximateReceiveCount?: string };
  }>,
  onFailure: (messageId: string, error: unknown) => void,
): Promise<string[]> {
  const failed: string[] = [];
  const fail = (messageId: string, error: unknown) => {
    onFailure(messageId, error);
    failed.push(messageId);
  };
  const parsed: Array<{ messageId: string; message: FanoutMessage; redelivered: boolean }> = [];
  for (const { messageId, body, attributes } of records) {
    try {
      const redelivered = Number(attributes?.ApproximateReceiveCount ?? 1) > 1;
      parsed.push({ messageId, message: parseFanoutMessage(body), redelivered });
    } catch (error) {
      fail(messageId, error);
    }
  }
  const handle = ({ messageId, message, redelivered }: (typeof parsed)[number]) => {
    const started = performance.now();
    return broadcast(deps, message, { redelivered }).then(
      (result) => {
        // Per message: the time to post it to every subscriber, and the posts that did not get through
        // (dropped for good, or handed to a later invocation).
        metrics.observe("eventbus_fanout_duration_seconds", {}, (performance.now() - started) / 1000);
        const failedPosts = result.dropped + result.requeued;
        if (failedPosts > 0) metrics.count("eventbus_fanout_failed_posts_total", {}, failedPosts);
      },
      (error: unknown) => {
        if (error instanceof TransientPostError) {
          metrics.count("eventbus_fanout_failed_posts_total", {}, error.connections);
        }
        fail(messageId, error);
      },
    );
  };
  const ordered = parsed.filter(({ message }) => message.kind !== "deliver");
  await Promise.all([
    (async () => {
      for (const item of ordered) await handle(item);
    })(),
    ...parsed.filter(({ message }) => message.kind === "deliver").map(handle),
  ]);
  return failed;
}
