/**
 * The capture reader alone, in its own process (as in the listener), for `bench:capture`: the writer being
 * measured must not share an event loop with it. Reads `DATABASE_URL`; stops on SIGTERM.
 */
import { startCaptureReader } from "../lib/capture/startCaptureReader.ts";
import { createSql } from "../lib/db/client.ts";

const url = process.env.DATABASE_URL;
if (!url) throw new Error("DATABASE_URL must be set");
const sql = createSql(url, { max: 3, connection: { application_name: "bench-capture-reader" } });
const reader = startCaptureReader({ sql, databaseUrl: url, log: () => {}, pollIntervalMs: 100 });
process.stdout.write("ready\n");
process.on("SIGTERM", () => {
  void reader
    .stop()
    .then(() => sql.end({ timeout: 5 }))
    .finally(() => process.exit(0));
});
