/**
 * `npm run bench:capture`: change capture keeping up with a writer.
 *
 * A writer updates rows of an application table at full speed (one autocommitted UPDATE per change), first
 * with nothing captured (the baseline) and then with the table captured, in the same run, on the same
 * Postgres. Reported: the writer's rate in both phases, the CPU the writer's own server process spends per
 * change in both phases (the work capture adds to each write; on a machine where the WAL decoder and the
 * capture's appends share the writer's cores, the rate also drops by what they take), the rate at which
 * changes land in the store while the writer runs, beside the writer's own rate (goal >= 0.7), and the lag
 * of each change from its UPDATE to its append (p50/p99; goal p99 <= 100 ms). Every change is checked to
 * arrive exactly once. Baseline and captured phases alternate over `--rounds N` (default 8) of `--seconds N`
 * (default 2) each, so that a change in the machine's load hits both alike; the cost is given over all
 * rounds and as the median of each round's cost against the baseline just before it (which a load that
 * changes from round to round moves least). The reader process is loaded once and only connected during
 * captured phases. Also printed: the CPU each process spent per change in both phases (writer client and
 * server process, walsender, reader, the reader's server processes). `--writers N` (default 1),
 * `--rate N` (updates per second over all writers instead of full speed: the CPU each process spends per
 * change depends on how many changes a batch gathers, so compare it at the same rate),
 * `--gather-ms N` (the reader's gatherMs), `--json`;
 * `CAPTURE_PROF=1` writes a CPU profile of the reader process to .eventbus/prof.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { putCapture } from "../lib/capture/putCapture.ts";
import { createSql, type Sql } from "../lib/db/client.ts";
import { migrate } from "../lib/db/migrate.ts";
import { type CpuSnapshot, cpuSnapshot } from "./processCpu.ts";
import { benchPostgres } from "./support.ts";

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const seconds = option("seconds", 2);
const rounds = option("rounds", 8);
const writers = option("writers", 1);
const gatherMs = args.includes("--gather-ms") ? option("gather-ms", 10) : undefined;
/** Updates per second over all writers; 0 (the default) is full speed. */
const targetRate = option("rate", 0);
const json = args.includes("--json");
const ROWS = 10_000;

/** The writer's connections are named, so that their server processes can be found and measured. */
const WRITER_APPLICATION = "bench-writer";

/** The capture reader's pool connections are named too, to tell its appends apart from other server work. */
const READER_APPLICATION = "bench-capture-reader";

/** Where the CPU of a phase went, in ms: a group per process kind, so that a cost can be traced to its maker. */
type CpuByProcess = Record<
  "writerClient" | "writerBackend" | "walsender" | "reader" | "readerBackends" | "otherPostgres",
  number
>;

/**
 * Updates random rows of `table` back to back from `writers` connections for `seconds`. Also returns the CPU
 * every process spent meanwhile, by kind: the writer's own server processes (the work a change costs the
 * writer itself), and apart from it what the WAL decoder (walsender), the capture reader and its appends,
 * and Postgres' background processes take from the same cores.
 */
async function write(app: Sql, bus: Sql, table: "bench_rows" | "bench_plain", readerPid?: number) {
  const before = cpuSnapshot();
  let changes = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < end) {
        if (targetRate > 0) {
          // Paced: the changes due by now, caught up in a burst after each (coarse) timer.
          const due = ((performance.now() - start) * targetRate) / 1000;
          if (changes >= due) {
            await new Promise((resolve) => setTimeout(resolve, 1));
            continue;
          }
        }
        const id = 1 + Math.floor(Math.random() * ROWS);
        await app`update ${app(table)} set n = n + 1, changed_at = clock_timestamp() where id = ${id}`;
        changes++;
      }
    }),
  );
  const seconds_ = (performance.now() - start) / 1000;
  const after = cpuSnapshot();
  // Connections opened during the phase count from 0; the warm-up opens them all beforehand.
  const sessions = await bus<{ pid: number; application: string; kind: string }[]>`
    select pid, application_name as application, backend_type as kind from pg_stat_activity`;
  const cpu = cpuByProcess(before, after, sessions, readerPid);
  return { changes, seconds: seconds_, cpuMs: cpu.writerBackend, cpu };
}

function cpuByProcess(
  before: CpuSnapshot,
  after: CpuSnapshot,
  sessions: readonly { pid: number; application: string; kind: string }[],
  readerPid: number | undefined,
): CpuByProcess {
  const groupOf = new Map<number, keyof CpuByProcess>();
  for (const session of sessions) {
    if (session.application === WRITER_APPLICATION) groupOf.set(session.pid, "writerBackend");
    else if (session.kind === "walsender") groupOf.set(session.pid, "walsender");
    else if (session.application === READER_APPLICATION) groupOf.set(session.pid, "readerBackends");
  }
  if (readerPid) groupOf.set(readerPid, "reader");
  const cpu: CpuByProcess = {
    writerClient: after.self - before.self,
    writerBackend: 0,
    walsender: 0,
    reader: 0,
    readerBackends: 0,
    otherPostgres: 0,
  };
  for (const [pid, { comm, ms }] of after.children) {
    const group = groupOf.get(pid) ?? (comm === "postgres" ? "otherPostgres" : undefined);
    if (!group) continue;
    const earlier = before.children.get(pid);
    cpu[group] += Math.max(0, earlier && earlier.comm === comm ? ms - earlier.ms : ms);
  }
  return cpu;
}

const addCpu = (total: CpuByProcess, more: CpuByProcess) => {
  for (const key of Object.keys(total) as (keyof CpuByProcess)[]) total[key] += more[key];
};
const noCpu = (): CpuByProcess => ({
  writerClient: 0,
  writerBackend: 0,
  walsender: 0,
  reader: 0,
  readerBackends: 0,
  otherPostgres: 0,
});

const perChange = (cpu: CpuByProcess, changes: number) =>
  Object.fromEntries(Object.entries(cpu).map(([key, ms]) => [key, (ms * 1000) / changes])) as CpuByProcess;

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

/**
 * The capture reader in a process of its own, as in the listener, loaded once and started and stopped for
 * each captured phase (see captureReaderProcess.ts).
 */
async function spawnReader(url: string) {
  const reader = spawn(
    process.execPath,
    [
      ...(process.env.CAPTURE_PROF ? ["--cpu-prof", "--cpu-prof-dir=.eventbus/prof"] : []),
      "--import",
      "tsx",
      "bench/captureReaderProcess.ts",
    ],
    {
      env: {
        ...process.env,
        DATABASE_URL: url,
        ...(gatherMs === undefined ? {} : { BENCH_GATHER_MS: String(gatherMs) }),
      },
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const lines = createInterface({ input: reader.stdout });
  const answer = (expected: string) =>
    new Promise<void>((resolve, reject) => {
      const onLine = (line: string) => {
        if (line !== expected) return;
        lines.off("line", onLine);
        resolve();
      };
      lines.on("line", onLine);
      reader.once("exit", () => reject(new Error("the capture reader process exited")));
    });
  await answer("ready");
  return {
    pid: reader.pid!,
    async start() {
      reader.stdin.write("start\n");
      await answer("started");
    },
    async stop() {
      reader.stdin.write("stop\n");
      await answer("stopped");
    },
    async exit() {
      reader.stdin.end();
      await new Promise((resolve) => reader.once("exit", resolve));
    },
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

async function main() {
  const pg = await benchPostgres();
  const bus = createSql(pg.url, { max: 6 });
  const app = createSql(pg.url, { max: writers, connection: { application_name: WRITER_APPLICATION } });
  await migrate(bus);
  // `bench_rows` is captured, `bench_plain` (the same rows) is not. Row 0 of `bench_rows` carries markers.
  await app.unsafe(`
    create table bench_rows (id int primary key, n int not null, changed_at timestamptz not null, note text);
    insert into bench_rows select g, 0, clock_timestamp(), 'row ' || g from generate_series(0, ${ROWS}) g;
    create table bench_plain (like bench_rows including all);
    insert into bench_plain select * from bench_rows;
  `);
  await putCapture(bus, "bench", { table: "public.bench_rows" });
  const storedCount = async () =>
    (
      await bus<[{ stored: number }]>`
        select count(*)::int as stored from eventbus.events where stream_id like 'bench-%' and stream_id <> 'bench-0'`
    )[0].stored;

  await write(app, bus, "bench_plain"); // warm-up
  // Alternating rounds, so that a change in the machine's load hits both sides alike. In the baseline
  // phase no reader is connected (no walsender decodes anything); in the captured phase the reader runs
  // and has caught up with everything before it (a marker change it has stored) before the writer starts.
  let baselineChanges = 0;
  let baselineSeconds = 0;
  let baselineCpuMs = 0;
  let capturedCpuMs = 0;
  const baselineCpu = noCpu();
  const capturedCpu = noCpu();
  let capturedChanges = 0;
  let capturedSeconds = 0;
  let during = 0;
  let windowSeconds = 0;
  // Each round's cost against the baseline just before it: a load that changes between rounds moves both.
  const roundCosts: number[] = [];
  const reader = await spawnReader(pg.url);
  for (let round = 0; round < rounds; round++) {
    const baseline = await write(app, bus, "bench_plain");
    addCpu(baselineCpu, baseline.cpu);
    baselineCpuMs += baseline.cpuMs;
    baselineChanges += baseline.changes;
    baselineSeconds += baseline.seconds;

    await reader.start();
    const [{ head: markerFrom }] = await bus<[{ head: number }]>`
      select coalesce(max(position), 0)::bigint as head from eventbus.events`;
    await app`update bench_rows set n = n + 1 where id = 0`;
    for (const deadline = Date.now() + 60_000; ; ) {
      const [{ seen }] = await bus<[{ seen: boolean }]>`
        select exists (select from eventbus.events where position > ${markerFrom} and stream_id = 'bench-0') as seen`;
      if (seen) break;
      if (Date.now() > deadline) throw new Error("the capture reader did not catch up");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const storedBefore = await storedCount();
    const windowStart = new Date();
    const captured = await write(app, bus, "bench_rows", reader.pid);
    addCpu(capturedCpu, captured.cpu);
    capturedCpuMs += captured.cpuMs;
    const windowEnd = new Date();
    capturedChanges += captured.changes;
    capturedSeconds += captured.seconds;
    roundCosts.push(1 - captured.changes / captured.seconds / (baseline.changes / baseline.seconds));
    windowSeconds += (windowEnd.getTime() - windowStart.getTime()) / 1000;
    // Changes stored while the writer was writing, by their append time.
    const [{ count }] = await bus<[{ count: number }]>`
      select count(*)::int as count from eventbus.events
      where stream_id like 'bench-%' and stream_id <> 'bench-0' and created_at > ${windowStart} and created_at <= ${windowEnd}`;
    during += count;
    // Let the capture drain before the reader stops.
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; ) {
      if ((await storedCount()) >= storedBefore + captured.changes) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await reader.stop();
  }
  await reader.exit();
  const stored = await storedCount();
  const lags = (
    await bus<{ lag: number }[]>`
      select extract(epoch from e.created_at - (e.data #>> '{new,changed_at}')::timestamptz)::float8 * 1000 as lag
      from eventbus.events e where stream_id like 'bench-%' and stream_id <> 'bench-0'`
  )
    .map((row) => row.lag)
    .sort((a, b) => a - b);
  // A batch is one store transaction, and its events share its start time (`created_at` is now()).
  const [{ batches }] = await bus<[{ batches: number }]>`
    select count(distinct created_at)::int as batches from eventbus.events
    where stream_id like 'bench-%' and stream_id <> 'bench-0'`;
  await bus.end({ timeout: 5 });
  await app.end({ timeout: 5 });
  await pg.stop();

  const baseline = { perSecond: baselineChanges / baselineSeconds };
  const captured = { changes: capturedChanges, perSecond: capturedChanges / capturedSeconds };
  const figures = {
    writers,
    seconds,
    rounds,
    writerBaselinePerSecond: Math.round(baseline.perSecond),
    writerWithCapturePerSecond: Math.round(captured.perSecond),
    writerCost: 1 - captured.perSecond / baseline.perSecond,
    writerCostMedianOfRounds: median(roundCosts),
    writerCostByRound: roundCosts.map((cost) => Number(cost.toFixed(3))),
    writerCpuUsPerChangeBaseline: (baselineCpuMs * 1000) / baselineChanges,
    writerCpuUsPerChangeCaptured: (capturedCpuMs * 1000) / capturedChanges,
    writerWorkCost: capturedCpuMs / capturedChanges / (baselineCpuMs / baselineChanges) - 1,
    capturedPerSecond: Math.round(during / windowSeconds),
    captureRatio: during / windowSeconds / captured.perSecond,
    changes: captured.changes,
    stored,
    exact: stored === captured.changes,
    lagP50Ms: percentile(lags, 50),
    lagP99Ms: percentile(lags, 99),
    lagMaxMs: lags.at(-1) ?? Number.NaN,
    eventsPerBatch: stored / batches,
    cpuUsPerChangeBaseline: perChange(baselineCpu, baselineChanges),
    cpuUsPerChangeCaptured: perChange(capturedCpu, capturedChanges),
  };
  const f = (n: number) => n.toFixed(2);
  console.log(
    `change capture, ${writers} writer(s), ${rounds} rounds of ${seconds} s per phase (alternating), ${ROWS} rows`,
  );
  console.log(`  writer, nothing captured   ${figures.writerBaselinePerSecond} updates/s`);
  console.log(
    `  writer, table captured     ${figures.writerWithCapturePerSecond} updates/s  (cost ${(figures.writerCost * 100).toFixed(1)}%, median of rounds ${(figures.writerCostMedianOfRounds * 100).toFixed(1)}%, goal <= 10%)`,
  );
  console.log(
    `  writer's own server work   ${f(figures.writerCpuUsPerChangeBaseline)} µs CPU per change, captured ${f(figures.writerCpuUsPerChangeCaptured)} µs (cost ${(figures.writerWorkCost * 100).toFixed(1)}%, goal <= 10%)`,
  );
  console.log(
    `  captured while writing     ${figures.capturedPerSecond} changes/s  (${f(figures.captureRatio)} x the writer, goal >= 0.7)`,
  );
  console.log(
    `  lag update -> append       p50 ${f(figures.lagP50Ms)} ms, p99 ${f(figures.lagP99Ms)} ms, max ${f(figures.lagMaxMs)} ms (goal p99 <= 100)`,
  );
  console.log(`  events per store batch     ${f(figures.eventsPerBatch)}`);
  console.log(
    `  exactly once               ${figures.stored} stored of ${figures.changes} changes: ${figures.exact}`,
  );
  console.log("  CPU per change (µs)         baseline  captured");
  for (const key of Object.keys(figures.cpuUsPerChangeBaseline) as (keyof CpuByProcess)[]) {
    console.log(
      `    ${key.padEnd(26)} ${f(figures.cpuUsPerChangeBaseline[key]).padStart(8)}  ${f(figures.cpuUsPerChangeCaptured[key]).padStart(8)}`,
    );
  }
  if (json) console.log(JSON.stringify(figures));
  if (!figures.exact) process.exitCode = 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
