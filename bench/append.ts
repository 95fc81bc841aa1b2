/**
 * `npm run bench:append [-- --json]`: append throughput against a plain-insert baseline, both measured in
 * the same run on the same Postgres, in alternating rounds (baseline, ours, baseline, ours, ...) so that a
 * change in machine load hits both alike. Prints events/s and the ratio for each case; with `--json`, one
 * JSON object `{"cases":[{"name","eventsPerSecond","baselinePerSecond","ratio"}]}` as the last line.
 *
 * Cases (ours / baseline):
 *   1. single-event append, 1 writer       / single-row insert, 1 writer
 *   2. 100-event append, 1 writer          / one 100-row insert, 1 writer
 *   3. single-event append, 8 writers      / single-row insert, 8 writers
 *   4. 100-event append, 8 writers         / one 100-row insert, 8 writers
 *   5. HTTP single append, 8 clients       / a bare `node:http` server doing the single-row insert, 8 clients
 * "Ours" is `appendToStream` (cases 1-4) or `POST /streams/{id}/events` through the real handler behind the
 * local API Gateway stand-in (lib/local/httpAdapter.ts), with a JWT, validation and everything else the
 * handler does. Every op appends to a new stream, so writers never contend for one stream.
 *
 * What the baseline does, exactly: one autocommit `INSERT INTO bench_plain (stream_id, version, id, type,
 * data, metadata) VALUES (...), ...` per op (1 or 100 rows), with the same columns and the same JSON the
 * event carries, on the same server and the same pool (20 connections). `bench_plain` has what any event
 * table minimally needs to be comparable, a `bigserial` primary key (the global position), and nothing
 * else: no other index, no constraint, no trigger, no NOTIFY, no stream row. The bare HTTP server reads
 * the body, parses the JSON, runs that single-row insert and answers 201 with the position; it checks no
 * token and validates nothing. Both servers run in this process and are driven by the same `fetch`
 * client (keep-alive) at the same concurrency.
 *
 * Under each case it prints the CPU this process (clients, servers, handler) and Postgres spent per 1,000
 * events, ours and baseline (warm-up excluded): on a shared machine the rates swing with the neighbours'
 * load, CPU per event much less, so it shows where a gap lies. `--json` adds them as
 * `"cpuMsPerThousandEvents": {"<case name>": {"ours": {...}, "baseline": {...}}}`.
 *
 * Then, as a reference and not a goal, the same 100-row insert into a copy of the events table with all its
 * indexes (`bench_indexed`) against the baseline, with 1 and 8 writers, every row entered in all four as an
 * event whose producer chose its id is: what the table's indexes cost such batches in this run (the
 * appends above assign ids, which skip the identity index; `--json`: `"references"`, shaped like `"cases"`).
 *
 * BENCH_SECONDS (default 3) is the measuring time per case and side.
 */
import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import { issueToken } from "../lib/auth/token.ts";
import { createSql } from "../lib/db/client.ts";
import { migrate } from "../lib/db/migrate.ts";
import { appendToStream } from "../lib/events/appendToStream.ts";
import { createHttpAdapter, listen } from "../lib/local/httpAdapter.ts";
import { createIndexedTable, createPlainTable, startBareInsertServer } from "./plainBaseline.ts";
import {
  type BenchCase,
  benchPostgres,
  compareRatesWithCpu,
  printJsonSummary,
  report,
  type SideFigures,
} from "./support.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const POOL = 20;
const data = { orderId: "o-1", total: 42.5, lines: [{ sku: "A-1", qty: 2 }], note: "benchmark payload" };

const pg = await benchPostgres();
const sql = createSql(pg.url, { max: POOL });
await migrate(sql);
await createPlainTable(sql);
await createIndexedTable(sql);

const rows = (n: number, stream: string) =>
  Array.from({ length: n }, (_, i) => ({
    stream_id: stream,
    version: i + 1,
    id: randomUUID(),
    type: "OrderPlaced",
    data,
    metadata: null,
  }));
const events = (n: number) => Array.from({ length: n }, () => ({ type: "OrderPlaced", data }));

let streamSeq = 0;
const plainInsert = (n: number) => () => sql`insert into bench_plain ${sql(rows(n, `plain-${streamSeq++}`))}`;
const append = (n: number) => () => appendToStream(sql, `bench-${streamSeq++}`, events(n));
/** The reference: the same rows, plainly inserted into a copy of the events table with all its indexes. */
const indexedInsert = (n: number) => () => {
  const stream = `indexed-${streamSeq++}`;
  return sql`insert into bench_indexed ${sql(
    rows(n, stream).map((row) => ({ ...row, category: "indexed", source: "" })),
  )}`;
};

// --- the real HTTP handler behind the local API Gateway stand-in --------------------------------------------
const secret = "bench-secret-bench-secret-bench-secret";
Object.assign(process.env, {
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  DATABASE_URL: pg.url,
  EVENTBUS_JWT_SECRET: secret,
  DATABASE_POOL_MAX: String(POOL),
});
const { loadLocalHttpRoutes } = await import("../functions/http/localRoutes.ts");
const server: Server = createHttpAdapter(await loadLocalHttpRoutes());
const baseUrl = await listen(server, 0);
const token = await issueToken(secret, { scope: "events:write" });

const { url: bareUrl, server: bare } = await startBareInsertServer(sql);

/** The same client for both servers: one event per POST, a fresh stream each, the same headers. */
const post = (url: string) => async () => {
  const res = await fetch(`${url}/streams/http-${streamSeq++}/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(events(1)[0]),
  });
  if (res.status !== 201) throw new Error(`append failed: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
};

const [settings] = await sql<[{ version: string; fsync: string; synchronous_commit: string }]>`
  select current_setting('server_version') as version, current_setting('fsync') as fsync,
    current_setting('synchronous_commit') as synchronous_commit`;
console.log(
  `bench:append  (${SECONDS}s per case and side, Postgres ${settings!.version}, fsync ${settings!.fsync}, ` +
    `synchronous_commit ${settings!.synchronous_commit})\n`,
);

const cases: BenchCase[] = [];
/** CPU ms per 1,000 events by process, ours and baseline, per case (see processCpu.ts). */
const cpu: Record<string, Record<"ours" | "baseline", Record<string, number>>> = {};
const cpuFigures = (figures: SideFigures) => ({
  "bench (clients, servers, handler)": figures.cpuMsPerThousand.self ?? 0,
  postgres: figures.cpuMsPerThousand.postgres ?? 0,
});
const compare = async (
  name: string,
  n: number,
  concurrency: number,
  target: number,
  ours: () => Promise<unknown>,
  baseline: () => Promise<unknown>,
) => {
  const figures = await compareRatesWithCpu(SECONDS, n, ours, baseline, concurrency);
  cases.push(report(name, figures.ours.perSecond, figures.baseline.perSecond, target));
  cpu[name] = { ours: cpuFigures(figures.ours), baseline: cpuFigures(figures.baseline) };
  const line = (side: Record<string, number>) =>
    Object.entries(side)
      .map(([group, ms]) => `${group.split(" ")[0]} ${ms.toFixed(1)}`)
      .join(", ");
  console.log(
    `  CPU ms per 1,000 events: ours ${line(cpu[name].ours)};  baseline ${line(cpu[name].baseline)}`,
  );
};
for (const [name, n, concurrency, target] of [
  ["single-event append, 1 writer", 1, 1, 0.8],
  ["100-event append, 1 writer", 100, 1, 0.7],
  ["single-event append, 8 writers", 1, 8, 0.7],
  ["100-event append, 8 writers", 100, 8, 0.7],
] as const) {
  await compare(name, n, concurrency, target, append(n), plainInsert(n));
}
await compare("HTTP single append, 8 clients", 1, 8, 0.7, post(baseUrl), post(bareUrl));

// Not a goal: where the events table's own indexes put the ceiling for batches, in this run.
console.log(
  "\nReference: a plain INSERT into a copy of the events table, each row in all four of its indexes (as events\n" +
    "with ids their producer chose), same baseline:",
);
const references: BenchCase[] = [];
for (const concurrency of [1, 8]) {
  const figures = await compareRatesWithCpu(SECONDS, 100, indexedInsert(100), plainInsert(100), concurrency);
  references.push(
    report(
      `100-row plain INSERT with the indexes, ${concurrency} writer${concurrency === 1 ? "" : "s"}`,
      figures.ours.perSecond,
      figures.baseline.perSecond,
    ),
  );
}
console.log(
  "\nBaseline: autocommit INSERTs of the same rows into a table with only a bigserial primary key, on the",
);
console.log("same server and pool; for HTTP, a bare node:http server doing that insert. Alternating rounds.");

server.close();
bare.close();
const { getRuntime } = await import("../functions/shared/runtime.ts");
await (await getRuntime()).sql.end();
await sql.end();
await pg.stop();
printJsonSummary(cases, { cpuMsPerThousandEvents: cpu, references });
