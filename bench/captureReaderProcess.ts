/**
 * The capture reader in its own process (as in the listener), for `bench:capture`: the writer being
 * measured must not share an event loop with it. Reads `DATABASE_URL`. Driven through stdin so that one
 * process (loaded once) serves every round: `start` starts the reader and answers `started`, `stop` stops it
 * (its walsender goes away) and answers `stopped`. Exits on SIGTERM or when stdin closes.
 */
import { createInterface } from "node:readline";
import { type CaptureReader, startCaptureReader } from "../lib/capture/startCaptureReader.ts";
import { createSql } from "../lib/db/client.ts";

const url = process.env.DATABASE_URL;
if (!url) throw new Error("DATABASE_URL must be set");
const sql = createSql(url, { max: 3, connection: { application_name: "bench-capture-reader" } });
let reader: CaptureReader | undefined;
/** `bench:capture --gather-ms N` (default: the reader's). */
const gatherMs = process.env.BENCH_GATHER_MS ? Number(process.env.BENCH_GATHER_MS) : undefined;

async function exit(): Promise<never> {
  await reader?.stop();
  await sql.end({ timeout: 5 });
  process.exit(0);
}

createInterface({ input: process.stdin })
  .on("line", async (line) => {
    if (line === "start") {
      reader ??= startCaptureReader({ sql, databaseUrl: url, log: () => {}, pollIntervalMs: 100, gatherMs });
      process.stdout.write("started\n");
    } else if (line === "stop") {
      await reader?.stop();
      reader = undefined;
      process.stdout.write("stopped\n");
    }
  })
  .on("close", () => void exit());
process.on("SIGTERM", () => void exit());
process.stdout.write("ready\n");
