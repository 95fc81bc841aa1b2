import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { freePort } from "../../lib/local/embeddedPostgres.ts";

/** `npm run dev` as a child process, on free ports, against a test database. */
export interface DevBus {
  httpUrl: string;
  sqsEndpoint: string;
  wsUrl: string;
  adminToken: string;
  queuePrefix: string;
  /** Everything it printed, for a failing test's message. */
  output: string[];
  stop(): Promise<void>;
}

/**
 * Starts `tsx lib/local/dev.ts` exactly as `npm run dev` does, with `DATABASE_URL` set (so it uses the test
 * run's Postgres) and its own SQS and DynamoDB stand-ins, and waits for its "ready" line.
 */
export async function startDevBus(databaseUrl: string): Promise<DevBus> {
  const [http, ws, sqs, dynamo] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const queuePrefix = `console${randomBytes(3).toString("hex")}-`;
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith("AWS_ENDPOINT_URL") && !key.startsWith("EVENTBUS_"))
      env[key] = value;
  }
  Object.assign(env, {
    DATABASE_URL: databaseUrl,
    EVENTBUS_JWT_SECRET: randomBytes(24).toString("hex"),
    EVENTBUS_HTTP_PORT: String(http),
    EVENTBUS_WS_PORT: String(ws),
    EVENTBUS_SQS_PORT: String(sqs),
    EVENTBUS_DYNAMODB_PORT: String(dynamo),
    EVENTBUS_QUEUE_PREFIX: queuePrefix,
    EVENTBUS_REALTIME_TABLE: `${queuePrefix}realtime`,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  });
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "lib/local/dev.ts"], {
    cwd: process.cwd(),
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const lines = createInterface({ input: child.stdout! });
  createInterface({ input: child.stderr! }).on("line", (line) => output.push(line));
  let adminToken = "";
  let wsUrl = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`npm run dev did not get ready:\n${output.join("\n")}`)),
      90_000,
    );
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`npm run dev exited with ${code}:\n${output.join("\n")}`));
    });
    lines.on("line", (line) => {
      output.push(line);
      const token = line.match(/admin token\s+(\S+)/);
      if (token) adminToken = token[1]!;
      const webSocket = line.match(/WebSocket API (ws:\/\/\S+)/);
      if (webSocket) wsUrl = webSocket[1]!;
      if (line.includes("ready. Ctrl-C")) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    httpUrl: `http://127.0.0.1:${http}`,
    sqsEndpoint: `http://127.0.0.1:${sqs}`,
    wsUrl,
    adminToken,
    queuePrefix,
    output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGINT");
        setTimeout(() => child.kill("SIGKILL"), 15_000).unref();
      }),
  };
}
