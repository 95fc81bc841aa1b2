/**
 * `npm run bench:capture`: change capture keeping up with a writer.
 *
 * A writer updates rows of an application table at full speed (one autocommitted UPDATE per change), first
 * with nothing captured (the baseline) and then with the table captured, in the same run, on the same
 * Postgres. Reported: the writer's rate in both phases (the cost capture puts on the writer; goal <= 10%),
 * the rate at which changes land in the store while the writer runs, beside the writer's own rate (goal >=
 * 0.7), and the lag of each change from its UPDATE to its append (p50/p99; goal p99 <= 100 ms). Every
 * change is checked to arrive exactly once. Baseline and captured phases alternate over `--rounds N`
 * (default 8) of `--seconds N` (default 2) each, after one round that warms up and is not counted (V8
 * compiles the reader's code in its first seconds), so that a change in the machine's load hits both alike;
 * the cost is given over all rounds and as the median of each round's cost against the baseline just
 * before it (which a load that changes from round to round moves least). The reader process is loaded
 * once and only connected during captured phases.
 *
 * Where the writer's time goes: per change, the writer's wall time, and for each process (writer client
 * and server process, walsender, reader, the reader's server processes) its CPU (user + system), its run
 * delay (time runnable but waiting for a CPU, from /proc/<pid>/schedstat), and how often it slept and was
 * preempted (voluntary and involuntary context switches).
 *
 * Options: `--writers N` (default 1); `--rate N` (updates per second over all writers instead of full
 * speed: the CPU each process spends per change depends on how many changes a batch gathers, so compare
 * it at the same rate); `--gather-ms N` (the reader's gatherMs); `--readers <list>`: the readers that take
 * turns beside the baseline in each round, `full` (the default), `full@N` (with a gather time of N ms),
 * `discard` (receives the WAL stream through the same client library and drops it: what the walsender
 * alone costs the writer) or `raw` (the same, reading the socket's bytes itself: what the client library
 * costs the reader), each also with `@N`; `--pin`
 * (experiment: writer on CPU 0, capture on CPU 1); `--json`. `CAPTURE_PROF=1` writes a CPU profile of the
 * reader process to .eventbus/prof.
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
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
/**
 * The readers that take turns beside the baseline in each round: `full` (the capture), `discard` (a reader
 * that receives the WAL stream and throws it away: what the walsender alone costs); `full@N` is the
 * capture with a gather time of N ms (see `gatherMs`), to compare gather times in one run.
 */
const readerModes = (args.includes("--readers") ? args[args.indexOf("--readers") + 1]! : "full").split(",");
for (const mode of readerModes)
  if (!/^(full|discard|raw)(@\d+)?$/.test(mode)) throw new Error(`--readers: unknown reader ${mode}`);
type ReaderMode = string;
const isFull = (mode: ReaderMode) => mode.startsWith("full");
/**
 * `--pin` (an experiment, Linux with `taskset`): the writer's client and server process on CPU 0, every
 * capture process on CPU 1, in both phases: what is left of the cost when capture cannot take the
 * writer's CPU.
 */
const pin = args.includes("--pin");

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
  // Connections opened during the phase count from 0; the warm-up opens them all beforehand.
  const sessions = await bus<{ pid: number; application: string; kind: string }[]>`
    select pid, application_name as application, backend_type as kind from pg_stat_activity`;
  const groupOf = processGroups(sessions, readerPid);
  if (pin)
    for (const [pid, group] of groupOf) {
      const cpu = group === "writerClient" || group === "writerBackend" ? "0" : "1";
      execFileSync("taskset", ["-a", "-c", "-p", cpu, String(pid)], { stdio: "ignore" });
    }
  const schedBefore = schedSnapshot(groupOf);
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
  const sched = schedSpent(schedBefore, schedSnapshot(groupOf), groupOf);
  const cpu = cpuByProcess(before, after, groupOf);
  return { changes, seconds: seconds_, cpuMs: cpu.writerBackend, cpu, sched };
}

/** Which group each process of interest belongs to: this process is the writer's client. */
function processGroups(
  sessions: readonly { pid: number; application: string; kind: string }[],
  readerPid: number | undefined,
): Map<number, keyof CpuByProcess> {
  const groupOf = new Map<number, keyof CpuByProcess>([[process.pid, "writerClient"]]);
  for (const session of sessions) {
    if (session.application === WRITER_APPLICATION) groupOf.set(session.pid, "writerBackend");
    else if (session.kind === "walsender") groupOf.set(session.pid, "walsender");
    else if (session.application === READER_APPLICATION) groupOf.set(session.pid, "readerBackends");
  }
  if (readerPid) groupOf.set(readerPid, "reader");
  return groupOf;
}

function cpuByProcess(
  before: CpuSnapshot,
  after: CpuSnapshot,
  groupOf: Map<number, keyof CpuByProcess>,
): CpuByProcess {
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
    if (!group || group === "writerClient") continue;
    const earlier = before.children.get(pid);
    cpu[group] += Math.max(0, earlier && earlier.comm === comm ? ms - earlier.ms : ms);
  }
  return cpu;
}

/** What the scheduler did to a process (its main thread), from /proc: counts since it started. */
interface Sched {
  /** CPU time of all its threads in user and in kernel mode (ms). */
  userMs: number;
  systemMs: number;
  /** Time runnable but waiting for a CPU (ms). */
  runDelayMs: number;
  /** Sleeps (waits for a socket, a latch, a disk flush). */
  voluntary: number;
  /** Preemptions: taken off a CPU while it still had work. */
  involuntary: number;
}
type SchedByProcess = Record<keyof CpuByProcess, Sched>;

function readSched(pid: number): Sched | undefined {
  try {
    const [, delayNs] = readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ");
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const count = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
    return {
      userMs: Number(fields[11]) * 10,
      systemMs: Number(fields[12]) * 10,
      runDelayMs: Number(delayNs) / 1e6,
      voluntary: count("voluntary_ctxt_switches"),
      involuntary: count("nonvoluntary_ctxt_switches"),
    };
  } catch {
    return undefined; // ended
  }
}
const noSched = (): Sched => ({ userMs: 0, systemMs: 0, runDelayMs: 0, voluntary: 0, involuntary: 0 });
const noSchedByProcess = () =>
  Object.fromEntries(Object.keys(noCpu()).map((key) => [key, noSched()])) as SchedByProcess;

/** The scheduler's counts of the processes of each group, by pid. */
function schedSnapshot(groupOf: Map<number, keyof CpuByProcess>): Map<number, Sched> {
  const snapshot = new Map<number, Sched>();
  for (const pid of groupOf.keys()) {
    const sched = readSched(pid);
    if (sched) snapshot.set(pid, sched);
  }
  return snapshot;
}

function schedSpent(
  before: Map<number, Sched>,
  after: Map<number, Sched>,
  groupOf: Map<number, keyof CpuByProcess>,
): SchedByProcess {
  const spent = noSchedByProcess();
  for (const [pid, end] of after) {
    const start = before.get(pid) ?? noSched();
    const group = spent[groupOf.get(pid)!];
    group.userMs += end.userMs - start.userMs;
    group.systemMs += end.systemMs - start.systemMs;
    group.runDelayMs += end.runDelayMs - start.runDelayMs;
    group.voluntary += end.voluntary - start.voluntary;
    group.involuntary += end.involuntary - start.involuntary;
  }
  return spent;
}

const addSched = (total: SchedByProcess, more: SchedByProcess) => {
  for (const key of Object.keys(total) as (keyof CpuByProcess)[]) {
    total[key].userMs += more[key].userMs;
    total[key].systemMs += more[key].systemMs;
    total[key].runDelayMs += more[key].runDelayMs;
    total[key].voluntary += more[key].voluntary;
    total[key].involuntary += more[key].involuntary;
  }
};

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
      const onExit = () => reject(new Error("the capture reader process exited"));
      const onLine = (line: string) => {
        if (line !== expected) return;
        lines.off("line", onLine);
        reader.off("exit", onExit);
        resolve();
      };
      lines.on("line", onLine);
      reader.once("exit", onExit);
    });
  await answer("ready");
  return {
    pid: reader.pid!,
    async start(mode: ReaderMode) {
      reader.stdin.write(`start ${mode}\n`);
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

/** Waits until the capture's slot is in use and confirmed past the WAL written so far. */
async function slotCaughtUp(bus: Sql): Promise<void> {
  const [{ lsn }] = await bus<[{ lsn: string }]>`select pg_current_wal_lsn()::text as lsn`;
  for (const deadline = Date.now() + 60_000; ; ) {
    const [{ caught }] = await bus<[{ caught: boolean }]>`
      select coalesce(bool_and(active and confirmed_flush_lsn >= ${lsn}::pg_lsn), false) as caught
      from pg_replication_slots where slot_name like 'eventbus_%' and database = current_database()`;
    if (caught) return;
    if (Date.now() > deadline) throw new Error("the reader did not catch up");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

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
  // phase no reader is connected (no walsender decodes anything); in a captured phase the reader runs and
  // has caught up with everything before it before the writer starts.
  const phase = () => ({
    changes: 0,
    seconds: 0,
    cpu: noCpu(),
    sched: noSchedByProcess(),
    roundCosts: [] as number[],
    /** Full readers: changes stored while the writer wrote, the writer's time, and each change's lag. */
    storedDuring: 0,
    windowSeconds: 0,
    lags: [] as number[],
    batches: 0,
  });
  const baselineTotal = phase();
  const totals = new Map(readerModes.map((mode) => [mode, phase()]));
  const reader = await spawnReader(pg.url);
  const add = (total: ReturnType<typeof phase>, result: Awaited<ReturnType<typeof write>>) => {
    total.changes += result.changes;
    total.seconds += result.seconds;
    addCpu(total.cpu, result.cpu);
    addSched(total.sched, result.sched);
  };
  let allFullChanges = 0;
  // Round -1 warms up and is not counted: the reader's code is compiled by V8 in its first seconds (its
  // optimizing compiler took as much CPU as the reader's own work in a cold 2 s round), as a listener that
  // has been running for a while has done long since.
  for (let round = -1; round < rounds; round++) {
    const warm = round < 0;
    const baseline = await write(app, bus, "bench_plain");
    if (!warm) add(baselineTotal, baseline);
    const baselineRate = baseline.changes / baseline.seconds;
    for (const mode of readerModes as ReaderMode[]) {
      const total = totals.get(mode)!;
      await reader.start(mode);
      if (isFull(mode)) {
        // Caught up: a marker change it has stored.
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
      } else await slotCaughtUp(bus);
      const storedBefore = await storedCount();
      const windowStart = new Date();
      const captured = await write(app, bus, "bench_rows", reader.pid);
      const windowEnd = new Date();
      if (isFull(mode)) allFullChanges += captured.changes;
      if (!warm) {
        add(total, captured);
        total.roundCosts.push(1 - captured.changes / captured.seconds / baselineRate);
      }
      if (isFull(mode)) {
        // Let the capture drain before the reader stops.
        for (const deadline = Date.now() + 120_000; Date.now() < deadline; ) {
          if ((await storedCount()) >= storedBefore + captured.changes) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      if (isFull(mode) && !warm) {
        total.windowSeconds += (windowEnd.getTime() - windowStart.getTime()) / 1000;
        // Changes stored while the writer was writing, by their append time.
        const [{ count }] = await bus<[{ count: number }]>`
          select count(*)::int as count from eventbus.events
          where stream_id like 'bench-%' and stream_id <> 'bench-0' and created_at > ${windowStart} and created_at <= ${windowEnd}`;
        total.storedDuring += count;
        // Lag of each change from its UPDATE to its append; a batch is one store transaction, and its
        // events share its start time (`created_at` is now()).
        const stored = await bus<{ lag: number; createdAt: Date }[]>`
          select extract(epoch from e.created_at - (e.data #>> '{new,changed_at}')::timestamptz)::float8 * 1000 as lag,
                 created_at as "createdAt"
          from eventbus.events e
          where stream_id like 'bench-%' and stream_id <> 'bench-0' and created_at > ${windowStart}`;
        for (const row of stored) total.lags.push(row.lag);
        total.batches += new Set(stored.map((row) => row.createdAt.getTime())).size;
      }
      // What a discarding reader left unread would go to the next full reader's store.
      if (!isFull(mode)) await slotCaughtUp(bus);
      await reader.stop();
    }
  }
  await reader.exit();
  const stored = await storedCount();
  await bus.end({ timeout: 5 });
  await app.end({ timeout: 5 });
  await pg.stop();

  const perSecond = (total: ReturnType<typeof phase>) => total.changes / total.seconds;
  const schedPerChange = (total: ReturnType<typeof phase>) =>
    Object.fromEntries(
      Object.entries(total.sched).map(([key, sched]) => [
        key,
        {
          userUs: (sched.userMs * 1000) / total.changes,
          systemUs: (sched.systemMs * 1000) / total.changes,
          runDelayUs: (sched.runDelayMs * 1000) / total.changes,
          voluntary: sched.voluntary / total.changes,
          involuntary: sched.involuntary / total.changes,
        },
      ]),
    ) as Record<
      keyof CpuByProcess,
      { userUs: number; systemUs: number; runDelayUs: number; voluntary: number; involuntary: number }
    >;
  const side = (total: ReturnType<typeof phase>) => ({
    perSecond: Math.round(perSecond(total)),
    cost: 1 - perSecond(total) / perSecond(baselineTotal),
    costMedianOfRounds: total.roundCosts.length ? median(total.roundCosts) : 0,
    costByRound: total.roundCosts.map((cost) => Number(cost.toFixed(3))),
    cpuUsPerChange: perChange(total.cpu, total.changes),
    schedPerChange: schedPerChange(total),
  });
  const capture = (total: ReturnType<typeof phase>) => {
    const lags = [...total.lags].sort((a, b) => a - b);
    return {
      capturedPerSecond: Math.round(total.storedDuring / total.windowSeconds),
      captureRatio: total.storedDuring / total.windowSeconds / perSecond(total),
      lagP50Ms: percentile(lags, 50),
      lagP99Ms: percentile(lags, 99),
      lagMaxMs: lags.at(-1) ?? Number.NaN,
      eventsPerBatch: lags.length / total.batches,
    };
  };
  const anyFull = readerModes.some(isFull);
  const figures = {
    writers,
    seconds,
    rounds,
    baseline: side(baselineTotal),
    ...Object.fromEntries(
      [...totals].map(([mode, total]) => [mode, { ...side(total), ...(isFull(mode) && capture(total)) }]),
    ),
    ...(anyFull && { changes: allFullChanges, stored, exact: stored === allFullChanges }),
  };
  const f = (n: number) => n.toFixed(2);
  const pct = (n: number) => `${(n * 100).toFixed(1)}%`;
  console.log(
    `change capture, ${writers} writer(s), ${rounds} rounds of ${seconds} s per phase (alternating: baseline, ${readerModes.join(", ")}), ${ROWS} rows`,
  );
  console.log(`  writer, nothing captured   ${figures.baseline.perSecond} updates/s`);
  for (const [mode, total] of totals) {
    const figure = side(total);
    const what = isFull(mode) ? `table captured${mode.slice(4)}` : `WAL dropped (${mode})`;
    console.log(
      `  writer, ${what.padEnd(18)} ${figure.perSecond} updates/s  (cost ${pct(figure.cost)}, median of rounds ${pct(figure.costMedianOfRounds)}${isFull(mode) ? ", goal <= 10%" : ""})`,
    );
    if (!isFull(mode)) continue;
    const c = capture(total);
    console.log(
      `    captured while writing   ${c.capturedPerSecond} changes/s  (${f(c.captureRatio)} x the writer, goal >= 0.7)`,
    );
    console.log(
      `    lag update -> append     p50 ${f(c.lagP50Ms)} ms, p99 ${f(c.lagP99Ms)} ms, max ${f(c.lagMaxMs)} ms (goal p99 <= 100)`,
    );
    console.log(`    events per store batch   ${f(c.eventsPerBatch)}`);
  }
  if (anyFull)
    console.log(
      `  exactly once               ${stored} stored of ${allFullChanges} changes (warm-up round included): ${stored === allFullChanges}`,
    );
  const sides: Array<[string, ReturnType<typeof phase>]> = [["baseline", baselineTotal], ...totals];
  console.log(
    `  per change: writer's wall time µs                             ${sides.map(([, total]) => (1e6 / perSecond(total)).toFixed(0).padStart(32)).join("")}`,
  );
  console.log(
    `  per change: CPU µs (user+sys) / run delay µs / sleeps / preemptions${sides.map(([name]) => name.padStart(32)).join("")}`,
  );
  for (const key of Object.keys(noCpu()) as (keyof CpuByProcess)[]) {
    const cells = sides.map(([, total]) => {
      const cpu = perChange(total.cpu, total.changes)[key];
      const sched = schedPerChange(total)[key];
      const text =
        key === "otherPostgres"
          ? f(cpu)
          : `${cpu.toFixed(0)} (${sched.userUs.toFixed(0)}+${sched.systemUs.toFixed(0)}) / ${sched.runDelayUs.toFixed(0)} / ${sched.voluntary.toFixed(2)} / ${sched.involuntary.toFixed(2)}`;
      return text.padStart(32);
    });
    console.log(`    ${key.padEnd(56)} ${cells.join("")}`);
  }
  if (json) console.log(JSON.stringify(figures));
  if (anyFull && stored !== allFullChanges) process.exitCode = 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
