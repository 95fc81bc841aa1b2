import type { SQSClient } from "@aws-sdk/client-sqs";
import pLimit from "p-limit";
import type { Sql } from "postgres";
import { checkpointOwner } from "./ownership.ts";
import { readParkedSummaries } from "./parkEvents.ts";
import { readQueueDepth } from "./subscriptionQueues.ts";
import type { Subscription } from "./subscriptionRow.ts";

/** A subscription as the admin API shows it: definition, queues and live figures. */
export interface SubscriptionStatus {
  name: string;
  filter: Subscription["filter"];
  startFrom: Subscription["startFrom"];
  ordering: Subscription["ordering"];
  maxReceiveCount: number;
  visibilityTimeout: number;
  format: Subscription["format"];
  inputTransformer: Subscription["inputTransformer"];
  queueUrl: string;
  dlqUrl: string;
  createdAt: string;
  /** Every event at or below this position has been handed to SQS (or did not match). */
  checkpoint: number;
  /** The newest position in the store. */
  head: number;
  /**
   * Stored events past the checkpoint, not yet forwarded (counted exactly up to 100,000, then estimated from
   * positions; an upper bound when a filter skips some). 0 when the checkpoint is at or past the head.
   */
  lag: number;
  /** How long ago the oldest event past the checkpoint was appended; 0 when there is none. */
  lagSeconds: number;
  /**
   * How far the checkpoint is past the last position the store has handed out: the next that many events
   * appended will never be forwarded (a checkpoint written by hand, or a database restored or its position
   * sequence reset behind it). 0 normally, including when the checkpoint is past `head` only because the
   * newest positions went to appends that rolled back (positions are never handed out twice).
   */
  ahead: number;
  /**
   * `failing`: SQS refuses or cannot take the listener's sends (a deleted queue, denied access, an
   * unreachable endpoint), which it retries until they succeed: see `lastError`; `paused`: the listener
   * holds back because the queue is over the maximum depth; `behind`: the oldest unforwarded event is more
   * than 5 s old; `parked`: flowing, with parked events waiting for a redrive; `active`: flowing.
   */
  state: "active" | "paused" | "behind" | "parked" | "failing";
  /** Since when the owning listener's sends have been failing, or `null` while they succeed (or none owns it). */
  failingSince: string | null;
  /** Why the newest failed send failed (SQS's error code and message), kept after recovery; or `null`. */
  lastError: string | null;
  lastErrorAt: string | null;
  /** Since when the listener has held the subscription back (back-pressure), or `null`. */
  pausedAt: string | null;
  /** Messages waiting in the queue, and received but not yet deleted; `null` if the queue is missing. */
  queueDepth: number | null;
  queueInFlight: number | null;
  dlqDepth: number | null;
  /** The listener forwarding it (`<host>:<pid>` unless configured), or `null` when none holds it. */
  owner: string | null;
  /** Events SQS refused for good (parked, with their reason); `POST .../redrive` sends them again. */
  parked: number;
  /** SQS's reason for the newest parked event, and when it was parked. */
  lastParkedReason: string | null;
  lastParkedAt: string | null;
}

interface StatusRow {
  name: string;
  checkpoint: number;
  head: number;
  /** The last position the sequence handed out (to a committed append or not). */
  issued: number;
  owner: string | null;
  pending: number;
  lagSeconds: number | null;
  pausedAt: Date | null;
  failingSince: Date | null;
  lastError: string | null;
  lastErrorAt: Date | null;
}

/** Pending events are counted one by one up to this many; beyond, the lag is estimated from positions. */
const LAG_COUNT_LIMIT = 100_000;
/** A subscription whose oldest unforwarded event is older than this is `behind`. */
const BEHIND_AFTER_SECONDS = 5;

/** Checkpoint, head, lag, queue depths and owner of each subscription, read live. */
export async function readSubscriptionStatus(
  sql: Sql,
  sqs: SQSClient,
  subscriptions: readonly Subscription[],
): Promise<SubscriptionStatus[]> {
  if (subscriptions.length === 0) return [];
  const names = subscriptions.map((s) => s.name);
  const rows = await sql<StatusRow[]>`
    select c.name, c.position as checkpoint,
      (select coalesce(max(position), 0)::int8 from eventbus.events) as head,
      (select case when is_called then last_value else last_value - 1 end
         from eventbus.event_position) as issued,
      ${checkpointOwner(sql)} as owner,
      (select count(*)::int from (select from eventbus.events e where e.position > c.position
                                   order by e.position limit ${LAG_COUNT_LIMIT}) pending) as pending,
      extract(epoch from now() - (select e.created_at from eventbus.events e where e.position > c.position
                                  order by e.position limit 1))::float8 as "lagSeconds",
      c.paused_at as "pausedAt", c.failing_since as "failingSince", c.last_error as "lastError",
      c.last_error_at as "lastErrorAt"
    from eventbus.checkpoints c
    where c.name = any(${names}::text[])`;
  const byName = new Map(rows.map((r) => [r.name, r]));
  const parked = await readParkedSummaries(sql, names);
  const limit = pLimit(8);
  return Promise.all(
    subscriptions.map((s) =>
      limit(async () => {
        const [queue, dlq] = await Promise.all([
          readQueueDepth(sqs, s.queueUrl),
          readQueueDepth(sqs, s.dlqUrl),
        ]);
        const row = byName.get(s.name);
        const checkpoint = row?.checkpoint ?? 0;
        const head = row?.head ?? 0;
        const pending = row?.pending ?? 0;
        const lag = pending < LAG_COUNT_LIMIT ? pending : Math.max(pending, head - checkpoint);
        const lagSeconds = lag === 0 ? 0 : Math.max(0, Math.round((row?.lagSeconds ?? 0) * 1000) / 1000);
        const ahead = Math.max(0, checkpoint - (row?.issued ?? checkpoint));
        const parkedCount = parked.get(s.name)?.parked ?? 0;
        // Only a listener that owns the subscription clears the mark; without one, nothing is sending.
        const failingSince = row?.owner ? (row.failingSince ?? null) : null;
        const state: SubscriptionStatus["state"] = failingSince
          ? "failing"
          : row?.pausedAt
            ? "paused"
            : lagSeconds > BEHIND_AFTER_SECONDS
              ? "behind"
              : parkedCount > 0
                ? "parked"
                : "active";
        return {
          name: s.name,
          filter: s.filter,
          startFrom: s.startFrom,
          ordering: s.ordering,
          maxReceiveCount: s.maxReceiveCount,
          visibilityTimeout: s.visibilityTimeout,
          // Subscriptions created before these existed have their defaults.
          format: s.format ?? "cloudevent",
          inputTransformer: s.inputTransformer ?? null,
          queueUrl: s.queueUrl,
          dlqUrl: s.dlqUrl,
          createdAt: s.createdAt.toISOString(),
          checkpoint,
          head,
          lag,
          lagSeconds,
          ahead,
          state,
          pausedAt: row?.pausedAt ? new Date(row.pausedAt).toISOString() : null,
          failingSince: failingSince ? new Date(failingSince).toISOString() : null,
          lastError: row?.lastError ?? null,
          lastErrorAt: row?.lastErrorAt ? new Date(row.lastErrorAt).toISOString() : null,
          queueDepth: queue?.visible ?? null,
          queueInFlight: queue?.inFlight ?? null,
          dlqDepth: dlq?.visible ?? null,
          owner: row?.owner?.replace(/^eventbus-listener:/, "") ?? null,
          parked: parkedCount,
          lastParkedReason: parked.get(s.name)?.lastParkedReason ?? null,
          lastParkedAt: parked.get(s.name)?.lastParkedAt ?? null,
        };
      }),
    ),
  );
}
