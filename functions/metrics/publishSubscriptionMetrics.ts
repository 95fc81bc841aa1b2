import { type RealtimeForwarding, readRealtimeForwarding } from "../../lib/listener/realtimeForwarding.ts";
import { countConnections } from "../../lib/metrics/countConnections.ts";
import { readLagSeconds } from "../../lib/metrics/readLagSeconds.ts";
import { readSlotLag } from "../../lib/metrics/readSlotLag.ts";
import { listSubscriptions } from "../../lib/subscriptions/listSubscriptions.ts";
import {
  readSubscriptionStatus,
  type SubscriptionStatus,
} from "../../lib/subscriptions/readSubscriptionStatus.ts";
import { getRuntime } from "../shared/runtime.ts";

/** CloudWatch namespace of the bus's own metrics; the alarms in `infra/monitoring.ts` query it. */
export const METRICS_NAMESPACE = "EventBus";

/**
 * One CloudWatch Embedded Metric Format record per subscription (dimensions `Bus`, `Subscription`):
 * `SubscriptionLag` (events between its checkpoint and the head), `SubscriptionLagSeconds` (age of the
 * oldest event it has not forwarded, 0 when caught up), `SubscriptionQueueDepth`,
 * `SubscriptionDeadLetters`, `SubscriptionParked` (events SQS refused for good, parked) and
 * `SubscriptionOwned` (1 while a listener holds it, else 0) and `SubscriptionFailing` (1 while SQS refuses or
 * cannot take the owning listener's sends, else 0).
 */
export function subscriptionMetricRecords(
  bus: string,
  statuses: readonly SubscriptionStatus[],
  now: number,
  lagSeconds: ReadonlyMap<string, number> = new Map(),
) {
  return statuses.map((status) => ({
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [["Bus", "Subscription"]],
          Metrics: [
            { Name: "SubscriptionLag", Unit: "Count" },
            { Name: "SubscriptionLagSeconds", Unit: "Seconds" },
            { Name: "SubscriptionQueueDepth", Unit: "Count" },
            { Name: "SubscriptionDeadLetters", Unit: "Count" },
            { Name: "SubscriptionParked", Unit: "Count" },
            { Name: "SubscriptionOwned", Unit: "Count" },
            { Name: "SubscriptionFailing", Unit: "Count" },
          ],
        },
      ],
    },
    Bus: bus,
    Subscription: status.name,
    SubscriptionLag: status.lag,
    SubscriptionLagSeconds: Math.round((lagSeconds.get(status.name) ?? 0) * 1000) / 1000,
    // A queue that is missing reports no depth rather than a misleading zero.
    ...(status.queueDepth === null ? {} : { SubscriptionQueueDepth: status.queueDepth }),
    ...(status.dlqDepth === null ? {} : { SubscriptionDeadLetters: status.dlqDepth }),
    SubscriptionParked: status.parked,
    SubscriptionOwned: status.owner === null ? 0 : 1,
    SubscriptionFailing: status.failingSince === null ? 0 : 1,
  }));
}

/**
 * One EMF record per logical replication slot (dimensions `Bus`, `Slot`): `CaptureSlotLagBytes`, the WAL the
 * slot holds back. The `CaptureSlotLag` alarm watches the largest.
 */
export function captureSlotMetricRecords(bus: string, lagBySlot: ReadonlyMap<string, number>, now: number) {
  return [...lagBySlot].map(([slot, lag]) => ({
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [["Bus", "Slot"]],
          Metrics: [{ Name: "CaptureSlotLagBytes", Unit: "Bytes" }],
        },
      ],
    },
    Bus: bus,
    Slot: slot,
    CaptureSlotLagBytes: lag,
  }));
}

/** A bus-wide EMF record (dimension `Bus`) of one count. */
function busCountRecord(bus: string, name: string, value: number, now: number) {
  return {
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [
        { Namespace: METRICS_NAMESPACE, Dimensions: [["Bus"]], Metrics: [{ Name: name, Unit: "Count" }] },
      ],
    },
    Bus: bus,
    [name]: value,
  };
}

/**
 * The bus-wide EMF record (dimension `Bus`): `RealtimeConnections`, the open WebSocket connections, which
 * the dashboard's realtime widget shows.
 */
export function busMetricRecord(bus: string, connections: number, now: number) {
  return busCountRecord(bus, "RealtimeConnections", connections, now);
}

/**
 * The realtime fan-out's EMF record (dimension `Bus`): `RealtimeFailing`, 1 while SQS refuses or cannot take
 * the listener's sends to the fan-out queue, else 0. The `RealtimeFailing` alarm watches it.
 */
export function realtimeForwardingRecord(bus: string, forwarding: RealtimeForwarding, now: number) {
  return busCountRecord(bus, "RealtimeFailing", forwarding.failingSince === null ? 0 : 1, now);
}

/**
 * Scheduled every minute: measures every subscription - including those created at run time, which the
 * stack cannot know -, each replication slot, the realtime fan-out's sends and connections, and publishes
 * the figures as EMF log lines, which CloudWatch turns into metrics without an API call or an IAM grant.
 * Written with `process.stdout.write` because Lambda's JSON log format wraps `console` output, and a
 * wrapped record is no longer EMF.
 */
export async function handler(): Promise<{ subscriptions: number; connections?: number }> {
  const { sql, sqs, dynamo, config } = await getRuntime();
  const statuses = await readSubscriptionStatus(sql, sqs, await listSubscriptions(sql));
  const lagSeconds = await readLagSeconds(
    sql,
    statuses.map((s) => s.name),
  );
  for (const record of subscriptionMetricRecords(config.EVENTBUS_NAME, statuses, Date.now(), lagSeconds)) {
    process.stdout.write(`${JSON.stringify(record)}\n`);
  }
  for (const record of captureSlotMetricRecords(config.EVENTBUS_NAME, await readSlotLag(sql), Date.now())) {
    process.stdout.write(`${JSON.stringify(record)}\n`);
  }
  const forwarding = await readRealtimeForwarding(sql);
  if (forwarding) {
    process.stdout.write(
      `${JSON.stringify(realtimeForwardingRecord(config.EVENTBUS_NAME, forwarding, Date.now()))}\n`,
    );
  }
  // A realtime table that cannot be read costs the connection count only, not the subscription figures.
  let connections: number | undefined;
  try {
    connections = await countConnections({ dynamo, tableName: config.EVENTBUS_REALTIME_TABLE });
    process.stdout.write(
      `${JSON.stringify(busMetricRecord(config.EVENTBUS_NAME, connections, Date.now()))}\n`,
    );
  } catch (error) {
    process.stderr.write(
      `${JSON.stringify({ level: "WARN", message: "could not count realtime connections", error: String(error) })}\n`,
    );
  }
  return { subscriptions: statuses.length, ...(connections === undefined ? {} : { connections }) };
}
