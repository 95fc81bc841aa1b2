import type { Labels, MetricKind, MetricsRegistry } from "./registry.ts";

/** One recording as it crosses a thread boundary: what `MetricSink.record` received. */
export type Recording = readonly [kind: MetricKind, name: string, labels: Labels, value: number];

/**
 * Sends every recording made in this thread's `registry` to `post`, in batches at most `intervalMs` apart:
 * a worker thread of `npm run dev` (the listener, the broadcaster) has a registry of its own, and its
 * parked events and fan-out times would otherwise never reach the `/metrics` the main thread serves (see
 * {@link replayRecordings}). Batching keeps it to one message per interval however busy the worker is.
 * `flush()` sends what is pending now (call it before the worker stops); `stop()` flushes and detaches.
 *
 * @example
 * const forwarding = forwardRecordings(metrics, (batch) => parentPort!.postMessage({ metrics: batch }));
 */
export function forwardRecordings(
  registry: MetricsRegistry,
  post: (batch: Recording[]) => void,
  intervalMs = 100,
): { flush(): void; stop(): void } {
  let pending: Recording[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    post(batch);
  };
  const detach = registry.addSink({
    record(kind, name, labels, value) {
      pending.push([kind, name, labels, value]);
      if (!timer) {
        timer = setTimeout(flush, intervalMs);
        // A pending batch is no reason to keep a stopping worker alive.
        timer.unref();
      }
    },
  });
  return {
    flush,
    stop() {
      detach();
      flush();
    },
  };
}

/**
 * Records a batch from {@link forwardRecordings} into `registry`, as if it had been recorded here. Anything
 * that is not a well-formed recording is skipped: a message from a worker must never break the scrape.
 */
export function replayRecordings(registry: MetricsRegistry, batch: unknown): void {
  if (!Array.isArray(batch)) return;
  for (const entry of batch) {
    if (!Array.isArray(entry) || entry.length !== 4) continue;
    const [kind, name, labels, value] = entry as [unknown, unknown, unknown, unknown];
    if (typeof name !== "string" || typeof value !== "number" || typeof labels !== "object" || !labels)
      continue;
    if (kind === "counter") registry.count(name, labels as Labels, value);
    else if (kind === "gauge") registry.gauge(name, labels as Labels, value);
    else if (kind === "histogram") registry.observe(name, labels as Labels, value);
  }
}
