import type { SQSClient } from "@aws-sdk/client-sqs";
import type { Sql } from "postgres";
import { readRealtimeForwarding } from "../listener/realtimeForwarding.ts";
import type { RealtimeTable } from "../realtime/table.ts";
import { listSubscriptions } from "../subscriptions/listSubscriptions.ts";
import { readSubscriptionStatus } from "../subscriptions/readSubscriptionStatus.ts";
import { countConnections } from "./countConnections.ts";
import { readLagSeconds } from "./readLagSeconds.ts";
import { readSlotLag } from "./readSlotLag.ts";
import type { MetricsRegistry } from "./registry.ts";

/**
 * Every metric the bus publishes, with its Prometheus help text. Counters and histograms are recorded where
 * the work happens; gauges marked "scrape" are read by `collectBusMetrics` when `/metrics` is scraped.
 */
export const BUS_METRICS = {
  eventbus_http_requests_total: ["counter", "HTTP API requests by route and status."],
  eventbus_http_request_duration_seconds: ["histogram", "HTTP API latency by route (handler time)."],
  eventbus_appends_total: ["counter", "Successful appends (201), one per request: appends/s is its rate."],
  eventbus_append_duration_seconds: ["histogram", "Latency of successful appends."],
  eventbus_head_position: ["gauge", "The newest global position (scrape): events/s is its derivative."],
  eventbus_subscription_lag_events: [
    "gauge",
    "Positions between a subscription's checkpoint and the head (scrape; an upper bound with a filter).",
  ],
  eventbus_subscription_lag_seconds: [
    "gauge",
    "Age of the oldest event a subscription has not forwarded yet, 0 when caught up (scrape).",
  ],
  eventbus_subscription_queue_depth: ["gauge", "Visible messages in a subscription's queue (scrape)."],
  eventbus_subscription_dlq_depth: ["gauge", "Messages in a subscription's dead-letter queue (scrape)."],
  eventbus_subscription_parked: ["gauge", "Events SQS refused for good, parked (scrape)."],
  eventbus_subscription_owned: ["gauge", "1 while a listener forwards the subscription, else 0 (scrape)."],
  eventbus_subscription_failing: [
    "gauge",
    "1 while SQS refuses or cannot take a subscription's sends (see its lastError), else 0 (scrape).",
  ],
  eventbus_parked_events_total: ["counter", "Events parked, by subscription (recorded by the listener)."],
  eventbus_redriven_events_total: ["counter", "Parked events sent again by a redrive, by subscription."],
  eventbus_fanout_duration_seconds: ["histogram", "Realtime fan-out: from the event's append to its post."],
  eventbus_fanout_failed_posts_total: ["counter", "Realtime posts that failed (not counting 410 Gone)."],
  eventbus_realtime_connections: ["gauge", "Open WebSocket connections (scrape)."],
  eventbus_realtime_failing: [
    "gauge",
    "1 while SQS refuses or cannot take the listener's sends to the realtime fan-out queue, else 0 (scrape).",
  ],
  eventbus_capture_lag_bytes: ["gauge", "WAL a logical replication slot holds back, in bytes (scrape)."],
} as const satisfies Record<string, readonly ["counter" | "gauge" | "histogram", string]>;

/** Declares every bus metric in `registry`, so a scrape shows each family even before its first value. */
export function describeBusMetrics(registry: MetricsRegistry): void {
  for (const [name, [kind, help]] of Object.entries(BUS_METRICS)) registry.describe(name, kind, help);
}

export interface BusMetricSources {
  sql: Sql;
  sqs: SQSClient;
  /** The realtime table, when realtime runs. */
  realtime?: RealtimeTable;
}

/**
 * Reads the scrape-time gauges: the head, each subscription's lag (events and seconds), queue, DLQ and
 * parked counts, ownership, failing sends, each replication slot's lag, whether the realtime fan-out's sends
 * fail, and the number of WebSocket connections. Subscriptions deleted since the last scrape disappear from
 * the output instead of freezing at their last value.
 */
export async function collectBusMetrics(registry: MetricsRegistry, sources: BusMetricSources): Promise<void> {
  const statuses = await readSubscriptionStatus(
    sources.sql,
    sources.sqs,
    await listSubscriptions(sources.sql),
  );
  const lagSeconds = await readLagSeconds(
    sources.sql,
    statuses.map((s) => s.name),
  );
  for (const name of [
    "eventbus_subscription_lag_events",
    "eventbus_subscription_lag_seconds",
    "eventbus_subscription_queue_depth",
    "eventbus_subscription_dlq_depth",
    "eventbus_subscription_parked",
    "eventbus_subscription_owned",
    "eventbus_subscription_failing",
    "eventbus_capture_lag_bytes",
    "eventbus_realtime_failing",
  ]) {
    registry.clear(name);
  }
  const [{ head }] = await sources.sql<[{ head: number }]>`
    select coalesce(max(position), 0)::int8 as head from eventbus.events`;
  registry.gauge("eventbus_head_position", {}, Number(head));
  for (const status of statuses) {
    const labels = { subscription: status.name };
    registry.gauge("eventbus_subscription_lag_events", labels, status.lag);
    registry.gauge("eventbus_subscription_lag_seconds", labels, lagSeconds.get(status.name) ?? 0);
    if (status.queueDepth !== null)
      registry.gauge("eventbus_subscription_queue_depth", labels, status.queueDepth);
    if (status.dlqDepth !== null) registry.gauge("eventbus_subscription_dlq_depth", labels, status.dlqDepth);
    registry.gauge("eventbus_subscription_parked", labels, status.parked);
    registry.gauge("eventbus_subscription_owned", labels, status.owner === null ? 0 : 1);
    registry.gauge("eventbus_subscription_failing", labels, status.failingSince === null ? 0 : 1);
  }
  for (const [slot, lag] of await readSlotLag(sources.sql)) {
    registry.gauge("eventbus_capture_lag_bytes", { slot }, lag);
  }
  const realtimeForwarding = await readRealtimeForwarding(sources.sql);
  if (realtimeForwarding) {
    registry.gauge("eventbus_realtime_failing", {}, realtimeForwarding.failingSince === null ? 0 : 1);
  }
  if (sources.realtime) {
    registry.gauge("eventbus_realtime_connections", {}, await countConnections(sources.realtime));
  }
}
