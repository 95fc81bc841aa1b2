import { describe, expect, it, vi } from "vitest";
import { createLambdaMetrics } from "../../lib/metrics/lambdaMetrics.ts";
import { MetricsRegistry } from "../../lib/metrics/registry.ts";

describe("metrics registry", () => {
  it("renders counters, gauges and histograms in the Prometheus text format", async () => {
    const registry = new MetricsRegistry();
    registry.describe("eventbus_appends_total", "counter", "Successful appends.");
    registry.count("eventbus_appends_total");
    registry.count("eventbus_appends_total", {}, 2);
    registry.gauge("eventbus_subscription_lag_events", { subscription: 'we"ird\\name' }, 7);
    registry.observe("eventbus_append_duration_seconds", {}, 0.004);
    registry.observe("eventbus_append_duration_seconds", {}, 0.2);

    const text = await registry.prometheus();
    expect(text).toContain(
      "# HELP eventbus_appends_total Successful appends.\n# TYPE eventbus_appends_total counter\neventbus_appends_total 3\n",
    );
    expect(text).toContain('eventbus_subscription_lag_events{subscription="we\\"ird\\\\name"} 7\n');
    expect(text).toContain('eventbus_append_duration_seconds_bucket{le="0.005"} 1\n');
    expect(text).toContain('eventbus_append_duration_seconds_bucket{le="0.25"} 2\n');
    expect(text).toContain('eventbus_append_duration_seconds_bucket{le="+Inf"} 2\n');
    expect(text).toContain("eventbus_append_duration_seconds_count 2\n");
    expect(text).toMatch(/^eventbus_append_duration_seconds_sum 0\.204\d*$/m);
  });

  it("runs collectors at scrape time, and a failing collector only counts an error", async () => {
    const registry = new MetricsRegistry();
    let head = 0;
    registry.collect(() => registry.gauge("eventbus_head_position", {}, ++head));
    registry.collect(() => {
      throw new Error("database down");
    });
    await registry.prometheus();
    const text = await registry.prometheus();
    expect(text).toContain("eventbus_head_position 2\n");
    expect(text).toContain("eventbus_metrics_collector_errors_total 2\n");
  });

  it("mirrors recordings into CloudWatch EMF through Powertools, labels as dimensions", () => {
    const registry = new MetricsRegistry();
    const lines: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)));
    const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      const { metrics } = createLambdaMetrics(registry, { bus: "prod", serviceName: "eventbus-http" });
      registry.observe("eventbus_append_duration_seconds", {}, 0.012);
      registry.count("eventbus_parked_events_total", { subscription: "audit" }, 2);
      metrics.publishStoredMetrics();
    } finally {
      log.mockRestore();
      write.mockRestore();
    }
    const records = lines
      .flatMap((l) => l.split("\n"))
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l));
    const parked = records.find((r) => "ParkedEvents" in r);
    expect(parked).toMatchObject({ Bus: "prod", Subscription: "audit", ParkedEvents: 2 });
    expect(parked._aws.CloudWatchMetrics[0].Namespace).toBe("EventBus");
    expect(parked._aws.CloudWatchMetrics[0].Dimensions[0]).toEqual(
      expect.arrayContaining(["Bus", "Subscription"]),
    );
    const latency = records.find((r) => "AppendLatency" in r);
    expect(latency).toMatchObject({ Bus: "prod", AppendLatency: 12 });
    expect(latency._aws.CloudWatchMetrics[0].Metrics).toEqual([
      { Name: "AppendLatency", Unit: "Milliseconds" },
    ]);
  });
});
