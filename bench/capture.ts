/**
 * `npm run bench:capture`: change capture keeping up with a writer.
 *
 * A writer updates rows of an application table at full speed (one autocommitted UPDATE per change), first
 * with nothing captured (the baseline) and then with the table captured, in the same run, on the same
 * Postgres. Reported: the writer's rate in both phases (the cost capture puts on writers), the rate at which
 * changes land in the store while the writer runs, beside the writer's own rate (goal >= 0.7), and the lag
 * of each change from its UPDATE to its append (p50/p99; goal p99 <= 100 ms). Every change is checked to
 * arrive exactly once. `--seconds N` (default 8), `--writers N` (default 1), `--json`; `CAPTURE_PROF=1` writes a
 * CPU profile of the reader process to .eventbus/prof.
 */
import { spawn } from "node:child_process";
import { putCapture } from "../lib/capture/putCapture.ts";
import { createSql, type Sql } from "../lib/db/client.ts";
import { migrate } from "../lib/db/migrate.ts";
import { benchPostgres } from "./support.ts";

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const seconds = option("seconds", 8);
const writers = option("writers", 1);
const json = args.includes("--json");
const ROWS = 10_000;

/** Updates random rows back to back from `writers` connections for `seconds`; returns the changes made. */
async function write(app: Sql): Promise<{ changes: number; perSecond: number }> {
  let changes = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < end) {
        const id = 1 + Math.floor(Math.random() * ROWS);
        await app`update bench_rows set n = n + 1, changed_at = clock_timestamp() where id = ${id}`;
        changes++;
      }
    }),
  );
  return { changes, perSecond: changes / ((performance.now() - start) / 1000) };
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

async function main() {
  const pg = await benchPostgres();
  const bus = createSql(pg.url, { max: 6 });
  const app = createSql(pg.url, { max: writers + 1 });
  await migrate(bus);
  await app.unsafe(`
    create table bench_rows (id int primary key, n int not null, changed_at timestamptz not null, note text);
    insert into bench_rows select g, 0, clock_timestamp(), 'row ' || g from generate_series(1, ${ROWS}) g;
  `);

  // Baseline: the same writer, nothing captured.
  await write(app); // warm-up
  const baseline = await write(app);

  await putCapture(bus, "bench", { table: "public.bench_rows" });
  // The reader runs in its own process, as in the listener: the writer measured here must not share an
  // event loop with it.
  const reader = spawn(
    process.execPath,
    [
      ...(process.env.CAPTURE_PROF ? ["--cpu-prof", "--cpu-prof-dir=.eventbus/prof"] : []),
      "--import",
      "tsx",
      "bench/captureReaderProcess.ts",
    ],
    {
      env: { ...process.env, DATABASE_URL: pg.url },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  await new Promise<void>((resolve) => reader.stdout.once("data", () => resolve()));
  await new Promise((resolve) => setTimeout(resolve, 1_500)); // the reader finds the capture
  const [{ head: before }] = await bus<
    [{ head: number }]
  >`select coalesce(max(position), 0)::bigint as head from eventbus.events`;
  const windowStart = new Date();
  const captured = await write(app);
  const windowEnd = new Date();
  // Changes stored while the writer was writing, by their append time.
  const [{ during }] = await bus<[{ during: number }]>`
    select count(*)::int as during from eventbus.events
    where position > ${before} and created_at <= ${windowEnd}`;
  // Then let the capture drain, and check that every change arrived exactly once.
  const deadline = Date.now() + 120_000;
  let stored = 0;
  while (Date.now() < deadline) {
    [{ stored }] = await bus<[{ stored: number }]>`
      select count(*)::int as stored from eventbus.events where position > ${before}`;
    if (stored >= captured.changes) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const lags = (
    await bus<{ lag: number }[]>`
      select extract(epoch from e.created_at - (e.data #>> '{new,changed_at}')::timestamptz)::float8 * 1000 as lag
      from eventbus.events e where position > ${before}`
  )
    .map((row) => row.lag)
    .sort((a, b) => a - b);
  reader.kill("SIGTERM");
  await new Promise((resolve) => reader.once("exit", resolve));
  await bus.end({ timeout: 5 });
  await app.end({ timeout: 5 });
  await pg.stop();

  const windowSeconds = (windowEnd.getTime() - windowStart.getTime()) / 1000;
  const figures = {
    writers,
    seconds,
    writerBaselinePerSecond: Math.round(baseline.perSecond),
    writerWithCapturePerSecond: Math.round(captured.perSecond),
    writerCost: 1 - captured.perSecond / baseline.perSecond,
    capturedPerSecond: Math.round(during / windowSeconds),
    captureRatio: during / windowSeconds / captured.perSecond,
    changes: captured.changes,
    stored,
    exact: stored === captured.changes,
    lagP50Ms: percentile(lags, 50),
    lagP99Ms: percentile(lags, 99),
    lagMaxMs: lags.at(-1) ?? Number.NaN,
  };
  const f = (n: number) => n.toFixed(2);
  console.log(`change capture, ${writers} writer(s), ${seconds} s per phase, ${ROWS} rows`);
  console.log(`  writer, nothing captured   ${figures.writerBaselinePerSecond} updates/s`);
  console.log(
    `  writer, table captured     ${figures.writerWithCapturePerSecond} updates/s  (cost ${(figures.writerCost * 100).toFixed(1)}%, goal <= 10%)`,
  );
  console.log(
    `  captured while writing     ${figures.capturedPerSecond} changes/s  (${f(figures.captureRatio)} x the writer, goal >= 0.7)`,
  );
  console.log(
    `  lag update -> append       p50 ${f(figures.lagP50Ms)} ms, p99 ${f(figures.lagP99Ms)} ms, max ${f(figures.lagMaxMs)} ms (goal p99 <= 100)`,
  );
  console.log(
    `  exactly once               ${figures.stored} stored of ${figures.changes} changes: ${figures.exact}`,
  );
  if (json) console.log(JSON.stringify(figures));
  if (!figures.exact) process.exitCode = 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
