import { Metrics } from "@aws-lambda-powertools/metrics";
import { EMF_NAMESPACE, emfSink } from "./lambdaMetrics.ts";
import type { MetricsRegistry } from "./registry.ts";

/**
 * CloudWatch EMF for a long-running process (the listener's container on ECS), the counterpart of
 * `createLambdaMetrics`, which flushes after each invocation: a process has no invocations, so what it
 * records is flushed every `intervalMs` instead. Labelled figures (`eventbus_parked_events_total` by
 * subscription) go out at once as EMF lines of their own with the labels as dimensions; unlabelled ones are
 * gathered by Powertools and written as one line per interval. Lines go to stdout, which the task's
 * `awslogs` driver sends to CloudWatch Logs, where EMF is turned into metrics (no API call, no IAM grant).
 * `stop()` flushes what is pending and detaches from the registry.
 */
export function startProcessMetrics(
  registry: MetricsRegistry,
  options: { bus: string; serviceName: string; intervalMs?: number },
): { metrics: Metrics; flush(): void; stop(): void } {
  const metrics = new Metrics({
    namespace: EMF_NAMESPACE,
    serviceName: options.serviceName,
    defaultDimensions: { Bus: options.bus },
  });
  const detach = registry.addSink(emfSink(metrics));
  // An empty flush would only log Powertools' "no metrics" warning every interval.
  const flush = () => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  };
  const timer = setInterval(flush, options.intervalMs ?? 60_000);
  timer.unref();
  return {
    metrics,
    flush,
    stop() {
      clearInterval(timer);
      detach();
      flush();
    },
  };
}
