import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import type { MiddlewareObj } from "@middy/core";
import type { MetricKind, MetricSink, MetricsRegistry } from "./registry.ts";

/** CloudWatch namespace of the bus's own metrics; the dashboard and alarms in `infra/monitoring.ts` read it. */
export const EMF_NAMESPACE = "EventBus";

/**
 * The Prometheus-style names of the registry mapped to CloudWatch metric names (CamelCase, the unit in the
 * unit rather than the name). Names not listed are published under their registry name.
 */
type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

export const CLOUDWATCH_NAMES: Record<string, { name: string; unit: Unit; scale?: number }> = {
  eventbus_http_requests_total: { name: "HttpRequests", unit: MetricUnit.Count },
  eventbus_http_request_duration_seconds: {
    name: "HttpRequestLatency",
    unit: MetricUnit.Milliseconds,
    scale: 1000,
  },
  eventbus_appends_total: { name: "Appends", unit: MetricUnit.Count },
  eventbus_append_duration_seconds: { name: "AppendLatency", unit: MetricUnit.Milliseconds, scale: 1000 },
  eventbus_fanout_duration_seconds: { name: "FanoutLatency", unit: MetricUnit.Milliseconds, scale: 1000 },
  eventbus_fanout_failed_posts_total: { name: "FanoutFailedPosts", unit: MetricUnit.Count },
  eventbus_realtime_connections: { name: "RealtimeConnections", unit: MetricUnit.Count },
  eventbus_parked_events_total: { name: "ParkedEvents", unit: MetricUnit.Count },
  eventbus_redriven_events_total: { name: "RedrivenEvents", unit: MetricUnit.Count },
  eventbus_subscription_lag_events: { name: "SubscriptionLag", unit: MetricUnit.Count },
  eventbus_subscription_lag_seconds: { name: "SubscriptionLagSeconds", unit: MetricUnit.Seconds },
  eventbus_capture_lag_bytes: { name: "CaptureSlotLagBytes", unit: MetricUnit.Bytes },
};

const labelDimension = (label: string) => label.charAt(0).toUpperCase() + label.slice(1);

/**
 * Mirrors the registry into CloudWatch through Powertools' embedded metric format. Unlabelled figures are
 * stored and flushed once per invocation (one log line) by `logMetrics`; a labelled figure becomes its own
 * EMF record with the labels as dimensions (`subscription` → `Subscription`) besides the default `Bus`.
 */
export function emfSink(metrics: Metrics): MetricSink {
  return {
    record(_kind: MetricKind, name: string, labels, value) {
      const target = CLOUDWATCH_NAMES[name] ?? { name, unit: MetricUnit.Count };
      const scaled = value * (target.scale ?? 1);
      const entries = Object.entries(labels);
      if (entries.length === 0) {
        metrics.addMetric(target.name, target.unit, scaled);
        return;
      }
      const single = metrics.singleMetric();
      single.addDimensions(Object.fromEntries(entries.map(([k, v]) => [labelDimension(k), v])));
      single.addMetric(target.name, target.unit, scaled);
    },
  };
}

/**
 * The Powertools `Metrics` of one Lambda function, attached to the process registry, and the middy
 * middleware that flushes it after every invocation: `.use(lambdaMetrics.middleware)`.
 */
export function createLambdaMetrics(
  registry: MetricsRegistry,
  options: { bus: string; serviceName: string },
): { metrics: Metrics; middleware: MiddlewareObj } {
  const metrics = new Metrics({
    namespace: EMF_NAMESPACE,
    serviceName: options.serviceName,
    defaultDimensions: { Bus: options.bus },
  });
  registry.addSink(emfSink(metrics));
  return { metrics, middleware: logMetrics(metrics) };
}
