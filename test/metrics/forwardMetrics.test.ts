import { expect, it } from "vitest";
import { forwardRecordings, type Recording, replayRecordings } from "../../lib/metrics/forwardMetrics.ts";
import { MetricsRegistry } from "../../lib/metrics/registry.ts";

it("carries a worker's recordings into the registry /metrics serves, in batches", async () => {
  const worker = new MetricsRegistry();
  const main = new MetricsRegistry();
  const batches: Recording[][] = [];
  // structuredClone: what postMessage does to a batch on its way to the main thread.
  const forwarding = forwardRecordings(worker, (batch) => {
    batches.push(batch);
    replayRecordings(main, structuredClone(batch));
  });
  worker.count("eventbus_parked_events_total", { subscription: "poison" }, 2);
  worker.observe("eventbus_fanout_duration_seconds", {}, 0.004);
  worker.observe("eventbus_fanout_duration_seconds", {}, 0.2);
  worker.gauge("eventbus_x", {}, 7);
  expect(batches).toEqual([]);
  await expect.poll(() => batches.length).toBe(1);
  const text = await main.prometheus();
  expect(text).toContain('eventbus_parked_events_total{subscription="poison"} 2');
  expect(text).toContain('eventbus_fanout_duration_seconds_bucket{le="0.005"} 1');
  expect(text).toContain("eventbus_fanout_duration_seconds_count 2");
  expect(text).toContain("eventbus_x 7");

  worker.count("eventbus_parked_events_total", { subscription: "poison" });
  forwarding.stop(); // flushes what is pending, then records nothing more
  worker.count("eventbus_parked_events_total", { subscription: "poison" });
  expect(main.read("eventbus_parked_events_total", { subscription: "poison" })).toBe(3);

  // Whatever else arrives is skipped, never thrown.
  replayRecordings(main, [["counter", 1, {}, 1], "x", ["histogram", "h", null, 1], ["bogus", "n", {}, 1]]);
  replayRecordings(main, { not: "a batch" });
  expect(main.read("h")).toBeUndefined();
});
