/**
 * `npm run dev`: the whole bus on this machine, no Docker. Starts (or connects to) Postgres, applies the
 * migrations, starts the AWS stand-ins, serves the unmodified Lambda handlers over HTTP and WebSocket, runs
 * the listener, prints the endpoints and an admin token, and stops everything it started on Ctrl-C.
 */
import { join } from "node:path";
import { issueToken } from "../auth/token.ts";
import { parseConfig } from "../config.ts";
import { localConsoleRoutes } from "../console/serveConsole.ts";
import { createSql } from "../db/client.ts";
import { migrate } from "../db/migrate.ts";
import { startLocalMetrics } from "../metrics/localMetrics.ts";
import { metrics } from "../metrics/registry.ts";
import { portOrFree, startEmbeddedPostgres } from "./embeddedPostgres.ts";
import { createHttpAdapter, listen } from "./httpAdapter.ts";
import { localJwtSecret, stateDir } from "./localState.ts";
import { startLocalRealtime } from "./startLocalRealtime.ts";
import { startLocalSqs, startLocalSubscriptions } from "./startLocalSubscriptions.ts";

type Stop = () => Promise<void> | void;
const stops: Array<{ name: string; stop: Stop }> = [];
const log = (message: string) => process.stdout.write(`[eventbus] ${message}\n`);

async function main() {
  const config = parseConfig(process.env);
  const dir = stateDir();

  // Postgres: DATABASE_URL, else an embedded real Postgres kept under .eventbus/.
  let databaseUrl = config.DATABASE_URL;
  if (!databaseUrl) {
    const port = await portOrFree(config.EVENTBUS_PG_PORT, process.env.EVENTBUS_PG_PORT !== undefined);
    const pg = await startEmbeddedPostgres({ dataDir: join(dir, "postgres"), persistent: true, port });
    stops.push({ name: "postgres", stop: pg.stop });
    databaseUrl = pg.url;
  }
  const sql = createSql(databaseUrl);
  stops.push({ name: "database pool", stop: () => sql.end({ timeout: 5 }) });
  const applied = await migrate(sql);
  log(
    `postgres ready (${applied.length ? `applied migrations ${applied.join(", ")}` : "schema up to date"})`,
  );

  const jwtSecret = localJwtSecret(dir, config.EVENTBUS_JWT_SECRET);
  // The handlers build their runtime from the environment, exactly as on Lambda.
  Object.assign(process.env, {
    DATABASE_URL: databaseUrl,
    EVENTBUS_JWT_SECRET: jwtSecret,
    AWS_REGION: config.AWS_REGION,
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? "local",
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? "local",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  });

  // --- AWS stand-ins (SQS, DynamoDB) and the WebSocket gateway are started here. ---

  // SQS (fauxqs unless AWS_ENDPOINT_URL) and the realtime fan-out queue.
  await startLocalSqs({ config, env: process.env, stops, log });

  // Realtime: DynamoDB, the WebSocket gateway and the broadcaster; after SQS, whose fan-out queue it drains.
  const webSocketUrl = await startLocalRealtime({ config, env: process.env, stops, log });

  // The listener (subscriptions and realtime fan-out) and the configured local consumers.
  await startLocalSubscriptions({ config, env: process.env, stops, log, databaseUrl, root: process.cwd() });

  const { loadLocalHttpRoutes } = await import("../../functions/http/localRoutes.ts");
  // The web console (bundled now, in memory) and Prometheus metrics are local extras on the same server.
  const localMetrics = startLocalMetrics({
    registry: metrics,
    sql,
    region: config.AWS_REGION,
    realtimeTableName: config.EVENTBUS_REALTIME_TABLE,
  });
  stops.push({ name: "metrics", stop: localMetrics.stop });
  const consoleRouteList = await localConsoleRoutes({ webSocketUrl }, log);
  const http = createHttpAdapter(
    [...consoleRouteList, localMetrics.route, ...(await loadLocalHttpRoutes())],
    {
      observe: localMetrics.observe,
    },
  );
  const httpUrl = await listen(http, config.EVENTBUS_HTTP_PORT);
  stops.push({ name: "http", stop: () => new Promise<void>((resolve) => http.close(() => resolve())) });

  const adminToken = await issueToken(jwtSecret, { scope: "admin", expiresIn: "30d" });
  log(`HTTP API      ${httpUrl}`);
  log(`DATABASE_URL  ${databaseUrl}`);
  log(`console       ${httpUrl}/console  (sign in with the admin token)`);
  log(`metrics       ${httpUrl}/metrics  (Prometheus text)`);
  log(`admin token   ${adminToken}`);
  log(`try:  curl -s -X POST ${httpUrl}/streams/orders-1/events -H "authorization: Bearer $TOKEN" \\`);
  log(`        -H 'content-type: application/json' -d '{"type":"OrderPlaced","data":{"total":42}}'`);
  log("ready. Ctrl-C stops everything.");
}

let stopping = false;
async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  for (const { name, stop } of stops.reverse()) {
    try {
      await stop();
    } catch (error) {
      process.stderr.write(`[eventbus] stopping ${name} failed: ${(error as Error).message}\n`);
    }
  }
  process.exit(code);
}

process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));
main().catch((error) => {
  process.stderr.write(`[eventbus] failed to start: ${(error as Error).message}\n`);
  void shutdown(1);
});
