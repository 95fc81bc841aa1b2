import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedPostgres } from "../lib/local/embeddedPostgres.ts";
import { addCpu, type CpuSpent, cpuSnapshot, cpuSpent } from "./processCpu.ts";

/** A throwaway Postgres for a benchmark run: `DATABASE_URL` if set, else an embedded one. */
export async function benchPostgres() {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => {} };
  return startEmbeddedPostgres({
    dataDir: join(mkdtempSync(join(tmpdir(), "eventbus-bench-")), "pg"),
    persistent: false,
  });
}

/**
 * Runs `op` back to back (with `concurrency` loops) for `seconds` after a short warm-up; returns the units
 * done, their rate, and the CPU spent by each process meanwhile (warm-up excluded).
 */
async function measure(seconds: number, unitsPerOp: number, op: () => Promise<unknown>, concurrency: number) {
  // Warm up with every loop, so that pools and keep-alive sockets are open before the clock starts.
  const warmUntil = Date.now() + 100;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < warmUntil) await op();
    }),
  );
  let ops = 0;
  const cpu = cpuSnapshot();
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await op();
        ops++;
      }
    }),
  );
  const units = ops * unitsPerOp;
  return {
    units,
    perSecond: units / ((performance.now() - start) / 1000),
    cpu: cpuSpent(cpu, cpuSnapshot()),
  };
}

/**
 * Runs `op` back to back (with `concurrency` loops) for `seconds` after a short warm-up and returns the
 * rate of `unitsPerOp` units per second.
 */
export async function rate(seconds: number, unitsPerOp: number, op: () => Promise<unknown>, concurrency = 1) {
  return (await measure(seconds, unitsPerOp, op, concurrency)).perSecond;
}

/** What one side of a comparison achieved: units per second, and CPU ms per 1,000 units by process. */
export interface SideFigures {
  perSecond: number;
  cpuMsPerThousand: Record<string, number>;
}

/**
 * Measures two operations in alternating short rounds, so that a change in machine load during the run
 * affects both alike, and returns the rate of each (units per second) over all rounds.
 */
export async function compareRates(
  seconds: number,
  unitsPerOp: number,
  ours: () => Promise<unknown>,
  baseline: () => Promise<unknown>,
  concurrency = 1,
): Promise<{ ours: number; baseline: number }> {
  const figures = await compareRatesWithCpu(seconds, unitsPerOp, ours, baseline, concurrency);
  return { ours: figures.ours.perSecond, baseline: figures.baseline.perSecond };
}

/**
 * Like {@link compareRates}, and also returns the CPU each process (this one, Postgres, ...) spent per 1,000
 * units on each side: a figure that the neighbours' load moves much less than the rates.
 */
export async function compareRatesWithCpu(
  seconds: number,
  unitsPerOp: number,
  ours: () => Promise<unknown>,
  baseline: () => Promise<unknown>,
  concurrency = 1,
): Promise<{ ours: SideFigures; baseline: SideFigures }> {
  const rounds = 6;
  const sides = {
    ours: { op: ours, rates: 0, units: 0, cpu: [] as CpuSpent[] },
    baseline: { op: baseline, rates: 0, units: 0, cpu: [] as CpuSpent[] },
  };
  for (let round = 0; round < rounds; round++) {
    for (const side of [sides.baseline, sides.ours]) {
      const { perSecond, units, cpu } = await measure(seconds / rounds, unitsPerOp, side.op, concurrency);
      side.rates += perSecond;
      side.units += units;
      side.cpu.push(cpu);
    }
  }
  const figures = (side: typeof sides.ours): SideFigures => ({
    perSecond: side.rates / rounds,
    cpuMsPerThousand: Object.fromEntries(
      Object.entries(addCpu(...side.cpu)).map(([group, ms]) => [
        group,
        Number(((1000 * ms) / side.units).toFixed(1)),
      ]),
    ),
  });
  return { ours: figures(sides.ours), baseline: figures(sides.baseline) };
}

export const fmt = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 0 });

/** One line of a benchmark's `--json` output. */
export interface BenchCase {
  name: string;
  eventsPerSecond: number;
  baselinePerSecond: number;
  ratio: number;
}

/** Whether the benchmark was asked for a machine-readable last line (`--json`). */
export const jsonRequested = () => process.argv.includes("--json");

/**
 * Prints one comparison line (our rate, the baseline's, the ratio against the target) and returns the
 * case for the `--json` summary.
 */
export function report(name: string, ours: number, baseline: number, target?: number): BenchCase {
  const ratio = ours / baseline;
  const verdict =
    target === undefined
      ? ""
      : ratio >= target
        ? `  (target >= ${target}: met)`
        : `  (target >= ${target}: MISSED)`;
  console.log(
    `${name.padEnd(48)} ${fmt(ours).padStart(9)} ev/s   baseline ${fmt(baseline).padStart(9)} ev/s   ratio ${ratio.toFixed(2)}${verdict}`,
  );
  return {
    name,
    eventsPerSecond: Math.round(ours),
    baselinePerSecond: Math.round(baseline),
    ratio: Number(ratio.toFixed(3)),
  };
}

/**
 * With `--json`, prints the summary as one JSON object on the last line of output, for scripts that
 * track figures across runs: `{"cases":[{"name","eventsPerSecond","baselinePerSecond","ratio"}], ...extra}`.
 */
export function printJsonSummary(cases: readonly BenchCase[], extra: Record<string, unknown> = {}) {
  if (jsonRequested()) console.log(JSON.stringify({ cases, ...extra }));
}
