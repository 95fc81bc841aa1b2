/**
 * `npm run bench:append`: append throughput against plain INSERTs of the same rows into a bare table,
 * measured in the same run on the same Postgres. Prints events/s and the ratio for each case.
 */
import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import { issueToken } from "../lib/auth/token.ts";
import { createSql } from "../lib/db/client.ts";
import { migrate } from "../lib/db/migrate.ts";
import { appendToStream } from "../lib/events/appendToStream.ts";
import { createHttpAdapter, listen } from "../lib/local/httpAdapter.ts";
import { benchPostgres, compareRates, report } from "./support.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const data = { orderId: "o-1", total: 42.5, lines: [{ sku: "A-1", qty: 2 }], note: "benchmark payload" };

const pg = await benchPostgres();
const sql = createSql(pg.url, { max: 20 });
await migrate(sql);
await sql`create table if not exists bench_plain (stream_id text, version bigint, id text, type text, data jsonb, metadata jsonb)`;

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

const secret = "bench-secret-bench-secret-bench-secret";
Object.assign(process.env, {
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  DATABASE_URL: pg.url,
  EVENTBUS_JWT_SECRET: secret,
  DATABASE_POOL_MAX: "20",
});
const { loadLocalHttpRoutes } = await import("../functions/http/localRoutes.ts");
const server: Server = createHttpAdapter(await loadLocalHttpRoutes());
const baseUrl = await listen(server, 0);
const token = await issueToken(secret, { scope: "events:write" });
const post = (n: number) => async () => {
  const body = JSON.stringify(n === 1 ? events(1)[0] : events(n));
  const res = await fetch(`${baseUrl}/streams/http-${streamSeq++}/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body,
  });
  if (res.status !== 201) throw new Error(`append failed: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
};

console.log(
  `bench:append  (${SECONDS}s per case, Postgres ${(await sql`show server_version`)[0]!.server_version}, fsync on)\n`,
);
for (const [name, n, concurrency, target] of [
  ["single event, lib, 1 writer", 1, 1, 0.7],
  ["100-event batch, lib, 1 writer", 100, 1, 0.7],
  ["single event, lib, 8 writers", 1, 8, undefined],
  ["100-event batch, lib, 8 writers", 100, 8, undefined],
] as const) {
  const { ours, baseline } = await compareRates(SECONDS, n, append(n), plainInsert(n), concurrency);
  report(name, ours, baseline, target);
}
for (const [name, n, target] of [
  ["single event, HTTP handler, 1 client", 1, undefined],
  ["100-event batch, HTTP handler, 1 client", 100, undefined],
] as const) {
  const { ours, baseline } = await compareRates(SECONDS, n, post(n), plainInsert(n));
  report(name, ours, baseline, target);
}
console.log(
  "\nBaseline: plain INSERT of the same rows (same columns and JSON) into a table with no constraints,",
);
console.log(
  "one autocommit statement per batch, on the same server and pool, measured in alternating rounds.",
);

server.close();
const { getRuntime } = await import("../functions/shared/runtime.ts");
await (await getRuntime()).sql.end();
await sql.end();
await pg.stop();
