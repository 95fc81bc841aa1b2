/**
 * The bus's own metrics, in process: counters, gauges and latency histograms keyed by name and labels.
 * Anything may record into it (handlers, the listener, the lead's capture code); `npm run dev` serves it as
 * Prometheus text at `GET /metrics`, and a Lambda can mirror it to CloudWatch through an EMF sink
 * (`lambdaMetrics.ts`). Recording is a map lookup and an add, cheap enough for the append path.
 *
 * @example
 * import { metrics } from "../metrics/registry.ts";
 * metrics.count("eventbus_events_appended_total", { category: "orders" }, 3);
 * metrics.gauge("eventbus_capture_slot_lag_bytes", { slot: "eventbus" }, 1024);
 * metrics.observe("eventbus_append_duration_seconds", {}, 0.004);
 */

export type Labels = Readonly<Record<string, string>>;
export type MetricKind = "counter" | "gauge" | "histogram";

/** Receives every recording as it happens, e.g. to mirror it into CloudWatch EMF. */
export interface MetricSink {
  record(kind: MetricKind, name: string, labels: Labels, value: number): void;
}

interface Series {
  labels: Labels;
  value: number;
  /** Histograms only: counts per bucket (not cumulative: rendering adds them up), and the sum. */
  buckets?: number[];
  sum?: number;
}

interface Family {
  kind: MetricKind;
  help: string;
  series: Map<string, Series>;
}

/** Latency buckets in seconds: from a fast local append to a slow cross-AZ retry. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const labelKey = (labels: Labels): string => {
  const names = Object.keys(labels);
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]}=${labels[names[0]!]}`;
  if (names.length === 2) {
    // The common case (route and status, say), in order without sorting an array.
    const first = names[0]!;
    const second = names[1]!;
    return first < second
      ? `${first}=${labels[first]},${second}=${labels[second]},`
      : `${second}=${labels[second]},${first}=${labels[first]},`;
  }
  names.sort();
  let key = "";
  for (const name of names) key += `${name}=${labels[name]},`;
  return key;
};

const escapeLabel = (value: string) =>
  value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

const formatLabels = (labels: Labels, extra?: [string, string]): string => {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra) pairs.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return pairs.length ? `{${pairs.join(",")}}` : "";
};

const formatValue = (value: number) =>
  Number.isFinite(value) ? String(value) : value > 0 ? "+Inf" : value < 0 ? "-Inf" : "NaN";

/** A set of metric families; `metrics` below is the process's own. */
export class MetricsRegistry {
  private readonly families = new Map<string, Family>();
  private readonly collectors = new Set<() => Promise<void> | void>();
  private readonly sinks = new Set<MetricSink>();

  /** Describes a metric (its Prometheus `# HELP` line); optional, recording works without it. */
  describe(name: string, kind: MetricKind, help: string): void {
    const family = this.family(name, kind);
    family.help = help;
  }

  /** Adds `value` (default 1) to a counter. */
  count(name: string, labels: Labels = {}, value = 1): void {
    const series = this.series(this.family(name, "counter"), labels);
    series.value += value;
    for (const sink of this.sinks) sink.record("counter", name, labels, value);
  }

  /** Sets a gauge. */
  gauge(name: string, labels: Labels, value: number): void {
    this.series(this.family(name, "gauge"), labels).value = value;
    for (const sink of this.sinks) sink.record("gauge", name, labels, value);
  }

  /** Records one observation (seconds, for latencies) into a histogram. */
  observe(name: string, labels: Labels, value: number): void {
    const series = this.series(this.family(name, "histogram"), labels);
    series.buckets ??= LATENCY_BUCKETS.map(() => 0);
    // One bucket per observation keeps recording O(1)-ish; the exposition sums them into `le` buckets.
    const index = LATENCY_BUCKETS.findIndex((bound) => value <= bound);
    if (index >= 0) series.buckets[index]!++;
    series.value++;
    series.sum = (series.sum ?? 0) + value;
    for (const sink of this.sinks) sink.record("histogram", name, labels, value);
  }

  /** Drops every series of a gauge, e.g. before re-reading figures of subscriptions that may be gone. */
  clear(name: string): void {
    this.families.get(name)?.series.clear();
  }

  /** A value as recorded (a histogram's observation count), or `undefined`; for tests and the console. */
  read(name: string, labels: Labels = {}): number | undefined {
    return this.families.get(name)?.series.get(labelKey(labels))?.value;
  }

  /** Runs before every scrape: the place for gauges read from the database or SQS. Returns an unsubscribe. */
  collect(collector: () => Promise<void> | void): () => void {
    this.collectors.add(collector);
    return () => this.collectors.delete(collector);
  }

  /** Mirrors every later recording into `sink`. Returns a detach function. */
  addSink(sink: MetricSink): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  /**
   * Runs the collectors, then renders every family in the Prometheus text exposition format (0.0.4). A
   * failing collector leaves its gauges as they were and is reported as `eventbus_metrics_collector_errors_total`.
   */
  async prometheus(): Promise<string> {
    for (const collector of this.collectors) {
      try {
        await collector();
      } catch {
        this.count("eventbus_metrics_collector_errors_total");
      }
    }
    const lines: string[] = [];
    for (const [name, family] of [...this.families].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (family.help) lines.push(`# HELP ${name} ${family.help.replace(/\n/g, " ")}`);
      lines.push(`# TYPE ${name} ${family.kind}`);
      for (const series of family.series.values()) {
        if (family.kind !== "histogram") {
          lines.push(`${name}${formatLabels(series.labels)} ${formatValue(series.value)}`);
          continue;
        }
        let cumulative = 0;
        LATENCY_BUCKETS.forEach((bound, i) => {
          cumulative += series.buckets?.[i] ?? 0;
          lines.push(`${name}_bucket${formatLabels(series.labels, ["le", String(bound)])} ${cumulative}`);
        });
        lines.push(`${name}_bucket${formatLabels(series.labels, ["le", "+Inf"])} ${series.value}`);
        lines.push(`${name}_sum${formatLabels(series.labels)} ${formatValue(series.sum ?? 0)}`);
        lines.push(`${name}_count${formatLabels(series.labels)} ${series.value}`);
      }
    }
    return `${lines.join("\n")}\n`;
  }

  private family(name: string, kind: MetricKind): Family {
    let family = this.families.get(name);
    if (!family) {
      family = { kind, help: "", series: new Map() };
      this.families.set(name, family);
    }
    return family;
  }

  private series(family: Family, labels: Labels): Series {
    const key = labelKey(labels);
    let series = family.series.get(key);
    if (!series) {
      series = { labels: { ...labels }, value: 0 };
      family.series.set(key, series);
    }
    return series;
  }
}

/** The process's registry. */
export const metrics = new MetricsRegistry();
