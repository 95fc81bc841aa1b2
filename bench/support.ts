import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedPostgres } from "../lib/local/embeddedPostgres.ts";

/** A throwaway Postgres for a benchmark run: `DATABASE_URL` if set, else an embedded one. */
export async function benchPostgres() {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => {} };
  return startEmbeddedPostgres({
    dataDir: join(mkdtempSync(join(tmpdir(), "eventbus-bench-")), "pg"),
    persistent: false,
  });
}

/**
 * Runs `op` back to back (with `concurrency` loops) for `seconds` after a short warm-up and returns the
 * rate of `unitsPerOp` units per second.
 */
export async function rate(seconds: number, unitsPerOp: number, op: () => Promise<unknown>, concurrency = 1) {
  // Warm up with every loop, so that pools and keep-alive sockets are open before the clock starts.
  const warmUntil = Date.now() + 100;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < warmUntil) await op();
    }),
  );
  let ops = 0;
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
  return (ops * unitsPerOp) / ((performance.now() - start) / 1000);
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
) {
  const rounds = 6;
  let oursTotal = 0;
  let baselineTotal = 0;
  for (let round = 0; round < rounds; round++) {
    baselineTotal += await rate(seconds / rounds, unitsPerOp, baseline, concurrency);
    oursTotal += await rate(seconds / rounds, unitsPerOp, ours, concurrency);
  }
  return { ours: oursTotal / rounds, baseline: baselineTotal / rounds };
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
