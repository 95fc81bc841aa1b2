import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { putCapture } from "../../lib/capture/putCapture.ts";
import { type CaptureReader, startCaptureReader } from "../../lib/capture/startCaptureReader.ts";
import { createSql, type Sql } from "../../lib/db/client.ts";
import { migrate } from "../../lib/db/migrate.ts";
import { freePort, type RunningPostgres, startEmbeddedPostgres } from "../../lib/local/embeddedPostgres.ts";

/*
 * Postgres itself crashes (an immediate shutdown: no checkpoint, crash recovery from the WAL at restart)
 * while an application writes and the capture appends. Whatever the crash takes, each row the source
 * table holds afterwards must be in the store exactly once, in commit order: the slot, the store's
 * progress row and the appended events recover together. (The capture's store commits do not wait for
 * their WAL flush and the slot is confirmed only past what is flushed; the loss that guards against, WAL
 * still in the OS's cache when the machine dies, cannot be produced here: a killed Postgres loses only
 * what it had not yet written to the kernel.)
 */

const dir = mkdtempSync(join(tmpdir(), "eventbus-crash-"));
const dataDir = join(dir, "pg");
let pg: RunningPostgres | undefined;

afterAll(async () => {
  await pg?.stop().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** SIGQUIT to the postmaster is Postgres' immediate shutdown: every process exits at once. */
async function crash(): Promise<void> {
  const pid = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
  process.kill(pid, "SIGQUIT");
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(50)) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
  }
  throw new Error("Postgres did not stop");
}

it("keeps every committed change exactly once, in order, across Postgres crashes", async () => {
  const port = await freePort();
  pg = await startEmbeddedPostgres({ dataDir, port, persistent: true });
  const url = pg.url;
  const bus: Sql = createSql(url, { max: 4, connect_timeout: 2 });
  const app: Sql = createSql(url, { max: 1, connect_timeout: 2 });
  let reader: CaptureReader | undefined;
  try {
    await migrate(bus);
    await app`create table crash_rows (id int primary key, note text not null)`;
    await putCapture(bus, "crash", { table: "public.crash_rows" });
    reader = startCaptureReader({ sql: bus, databaseUrl: url, log: () => {}, pollIntervalMs: 100 });

    // One writer, one row per transaction; a failed insert (the server went away) is simply retried with
    // the next id, so ids are ascending in commit order whatever committed.
    let writing = true;
    let next = 1;
    const writer = (async () => {
      while (writing) {
        const id = next++;
        await app`insert into crash_rows values (${id}, ${`row ${id}`})`.catch(() => sleep(20));
      }
    })();
    for (let round = 0; round < 2; round++) {
      await sleep(1_500);
      await crash();
      pg = await startEmbeddedPostgres({ dataDir, port, persistent: true });
    }
    await sleep(1_000);
    writing = false;
    await writer;

    const committed = (await app<{ id: number }[]>`select id from crash_rows order by id`).map((r) => r.id);
    expect(committed.length).toBeGreaterThan(100);
    let stored: string[] = [];
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(200)) {
      stored = (
        await bus<{ stream_id: string }[]>`
          select stream_id from eventbus.events where stream_id like 'crash-%' order by position`.catch(
          () => [],
        )
      ).map((r) => r.stream_id);
      if (stored.length >= committed.length) break;
    }
    expect(stored).toEqual(committed.map((id) => `crash-${id}`));
  } finally {
    await reader?.stop();
    await bus.end({ timeout: 1 });
    await app.end({ timeout: 1 });
  }
}, 120_000);
