import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { issueToken } from "../../lib/auth/token.ts";
import { parseConfig } from "../../lib/config.ts";
import { createSql, type Sql } from "../../lib/db/client.ts";
import { migrate } from "../../lib/db/migrate.ts";
import { freePort, type RunningPostgres, startEmbeddedPostgres } from "../../lib/local/embeddedPostgres.ts";
import { createHttpAdapter, listen } from "../../lib/local/httpAdapter.ts";
import { startLocalRealtime } from "../../lib/local/startLocalRealtime.ts";
import { startLocalSqs } from "../../lib/local/startLocalSubscriptions.ts";
import { type FaultProxyOptions, type RunningFaultProxy, startFaultProxy } from "./faultProxy.ts";
import { type ListenerSupervisor, probeChild, superviseListener } from "./listenerProcess.ts";
import type { ProcessSample } from "./memory.ts";

type Stop = () => Promise<void> | void;

export interface ChaosBus {
  httpUrl: string;
  wsUrl: string;
  /** The SQS stand-in itself (consumers drain it directly); the listener goes through `proxy`. */
  sqsEndpoint: string;
  proxy: RunningFaultProxy;
  listener: ListenerSupervisor;
  adminToken: string;
  /** A pool of the run's own, for reading checkpoints and the head at the end. */
  sql: Sql;
  /** Stops Postgres (a clean shutdown: every connection is cut) and starts it again on the same port. */
  restartPostgres(downMs: number): Promise<void>;
  /** The stand-ins' process (fauxqs, dynalite): its memory and handles. */
  sampleStandIns(): Promise<ProcessSample | null>;
  /** The postmaster's pid, for its memory. */
  postgresPid(): number | null;
  stop(): Promise<void>;
}

export interface ChaosBusOptions {
  fault: Omit<FaultProxyOptions, "target">;
  listenerPollMs: number;
  log: (message: string) => void;
}

/**
 * The whole bus as `npm run dev` runs it, built from the same parts (`startLocalSqs`, `startLocalRealtime`,
 * the local HTTP adapter), except that Postgres lives in a throwaway directory on a fixed port so it can be
 * restarted, the listener runs as a child process so it can be SIGKILLed, and the listener reaches SQS
 * through a fault-injecting proxy.
 */
export async function startChaosBus(options: ChaosBusOptions): Promise<ChaosBus> {
  const stops: Array<{ name: string; stop: Stop }> = [];
  const dir = mkdtempSync(join(tmpdir(), "eventbus-chaos-"));
  const dataDir = join(dir, "pg");
  const port = await freePort();
  let pg: RunningPostgres = await startEmbeddedPostgres({ dataDir, port, persistent: true });
  const databaseUrl = pg.url;
  const sql = createSql(databaseUrl, { max: 4 });
  await migrate(sql);

  const jwtSecret = randomBytes(24).toString("hex");
  // The handlers build their runtime from the environment, exactly as on Lambda and in `npm run dev`.
  Object.assign(process.env, {
    DATABASE_URL: databaseUrl,
    EVENTBUS_JWT_SECRET: jwtSecret,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    EVENTBUS_QUEUE_PREFIX: `chaos${randomBytes(3).toString("hex")}-`,
  });
  delete process.env.AWS_ENDPOINT_URL_SQS;
  delete process.env.AWS_ENDPOINT_URL_DYNAMODB;
  delete process.env.EVENTBUS_REALTIME_QUEUE_URL;
  // The stand-ins run in a child of their own; with their endpoints set, startLocalSqs/startLocalRealtime
  // only create the fan-out queue and the realtime table on them.
  const standIns = spawn(
    process.execPath,
    ["--import", "tsx", fileURLToPath(new URL("./standIns.ts", import.meta.url))],
    { stdio: ["ignore", "pipe", "inherit", "ipc"], cwd: fileURLToPath(new URL("../../", import.meta.url)) },
  );
  stops.push({
    name: "stand-ins",
    stop: () =>
      new Promise<void>((resolve) => {
        if (standIns.exitCode !== null) return resolve();
        standIns.once("exit", () => resolve());
        standIns.kill("SIGTERM");
      }),
  });
  const endpoints = JSON.parse(
    await new Promise<string>((resolve, reject) => {
      createInterface({ input: standIns.stdout! }).once("line", resolve);
      standIns.once("exit", (code) => reject(new Error(`the stand-ins exited with ${code}`)));
    }),
  ) as { sqs: string; dynamo: string };
  process.env.AWS_ENDPOINT_URL_SQS = endpoints.sqs;
  process.env.AWS_ENDPOINT_URL_DYNAMODB = endpoints.dynamo;
  let probeId = 0;
  const config = parseConfig({
    ...process.env,
    EVENTBUS_SQS_PORT: "0",
    EVENTBUS_DYNAMODB_PORT: "0",
    EVENTBUS_WS_PORT: "0",
  });
  const quiet = (message: string) => {
    if (!/^(SQS|DynamoDB|WebSocket API) /.test(message)) options.log(message);
  };
  await startLocalSqs({ config, env: process.env, stops, log: quiet });
  const wsUrl = await startLocalRealtime({ config, env: process.env, stops, log: quiet });
  const sqsEndpoint = process.env.AWS_ENDPOINT_URL_SQS!;

  const proxy = await startFaultProxy({ target: sqsEndpoint, ...options.fault });
  stops.push({ name: "fault proxy", stop: proxy.stop });

  const { loadLocalHttpRoutes } = await import("../../functions/http/localRoutes.ts");
  const http: Server = createHttpAdapter(await loadLocalHttpRoutes());
  const httpUrl = await listen(http, 0);
  stops.push({
    name: "http",
    stop: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  });

  const listener = superviseListener({
    DATABASE_URL: databaseUrl,
    AWS_ENDPOINT_URL_SQS: proxy.endpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    EVENTBUS_REALTIME_QUEUE_URL: process.env.EVENTBUS_REALTIME_QUEUE_URL!,
    EVENTBUS_LISTENER_POLL_MS: String(options.listenerPollMs),
  });
  await listener.start();
  stops.push({ name: "listener", stop: listener.stop });

  const adminToken = await issueToken(jwtSecret, { scope: "admin", expiresIn: "1d" });
  return {
    httpUrl,
    wsUrl,
    sqsEndpoint,
    proxy,
    listener,
    adminToken,
    sql,
    async restartPostgres(downMs) {
      await pg.stop();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      pg = await startEmbeddedPostgres({ dataDir, port, persistent: true });
    },
    sampleStandIns: () => probeChild(standIns, ++probeId),
    postgresPid() {
      try {
        return Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
      } catch {
        return null;
      }
    },
    async stop() {
      for (const { name, stop } of stops.reverse()) {
        try {
          await stop();
        } catch (error) {
          options.log(`stopping ${name} failed: ${(error as Error).message}`);
        }
      }
      const { getRuntime } = await import("../../functions/shared/runtime.ts");
      await (await getRuntime()).sql.end({ timeout: 2 }).catch(() => {});
      await sql.end({ timeout: 2 }).catch(() => {});
      await pg.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
