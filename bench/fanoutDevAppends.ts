/**
 * `npx tsx bench/fanoutDevAppends.ts`: HTTP appends served by `npm run dev` with realtime on (listener,
 * fan-out queue, broadcaster, DynamoDB stand-in, WebSocket gateway, all in its one process), against a
 * bare `node:http` server doing a plain single-row insert into the same Postgres, driven by the same
 * client at 1 and 8 concurrent requests in alternating rounds. Realtime must cost appends next to nothing
 * while nobody listens (goal: >= 0.7 of the bare server). BENCH_SUBSCRIBERS (default 0) WebSocket clients
 * subscribe to `$all` first; BENCH_SECONDS (default 6) per case and side; BENCH_CLIENTS (default "1,8") the
 * concurrencies to run; BENCH_WARMUP (default 4000) appends through each side before the first case;
 * DEV_PROF=1 writes CPU profiles of the dev process to /tmp/devprof.
 *
 * Why the warm-up: a `npm run dev` process loads the whole bus (handlers, AWS SDK clients, the listener,
 * the stand-ins), and V8 keeps optimizing its hot paths for the first ~2,500 requests: measured per
 * append at 1 client, the dev process's CPU falls from ~4.4 ms over the first 200 requests to ~1.6 ms
 * after 3,000, most of the difference being optimizing compiles on V8's helper threads. A cold process
 * against the few functions of the bare server measured that start-up, not what a running dev server
 * costs per append. Both sides get the same warm-up.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { issueToken } from "../lib/auth/token.ts";
import { createSql } from "../lib/db/client.ts";
import { migrate } from "../lib/db/migrate.ts";
import { freePort } from "../lib/local/embeddedPostgres.ts";
import { createPlainTable, startBareInsertServer } from "./plainBaseline.ts";
import { type BenchCase, benchPostgres, compareRatesWithCpu, printJsonSummary, report } from "./support.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 0);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 4000);
const secret = "bench-secret-bench-secret-bench-secret";
const root = fileURLToPath(new URL("..", import.meta.url));

const pg = await benchPostgres();
const sql = createSql(pg.url, { max: 10 });
await migrate(sql);
await createPlainTable(sql);

// --- npm run dev, as a user starts it (with this Postgres) ---------------------------------------------
const ports = {
  EVENTBUS_HTTP_PORT: await freePort(),
  EVENTBUS_WS_PORT: await freePort(),
  EVENTBUS_SQS_PORT: await freePort(),
  EVENTBUS_DYNAMODB_PORT: await freePort(),
};
const dev = spawn(
  process.execPath,
  [
    ...(process.env.DEV_PROF ? ["--cpu-prof", "--cpu-prof-dir=/tmp/devprof"] : []),
    "--import",
    "tsx",
    "lib/local/dev.ts",
  ],
  {
    cwd: root,
    env: {
      ...process.env,
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
      DATABASE_URL: pg.url,
      EVENTBUS_JWT_SECRET: secret,
      EVENTBUS_CONSUMERS_FILE: "/nonexistent/consumers.json",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    },
    stdio: ["ignore", "pipe", "pipe"],
  },
);
let devOutput = "";
await new Promise<void>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`npm run dev did not get ready:\n${devOutput}`)), 120_000);
  dev.stdout.on("data", (chunk: Buffer) => {
    devOutput += chunk.toString();
    if (devOutput.includes("ready.")) {
      clearTimeout(timer);
      resolve();
    }
  });
  dev.stderr.on("data", (chunk: Buffer) => {
    devOutput += chunk.toString();
  });
  dev.once("exit", (code) => reject(new Error(`npm run dev exited (${code}):\n${devOutput}`)));
});
const devUrl = `http://127.0.0.1:${ports.EVENTBUS_HTTP_PORT}`;

const { url: bareUrl, server: bare } = await startBareInsertServer(sql);

const token = await issueToken(secret, { scope: "admin" });
let seq = 0;
let devAppends = 0;
const data = { orderId: "o-1", total: 42.5, lines: [{ sku: "A-1", qty: 2 }], note: "benchmark payload" };
const post = (url: string) => async () => {
  const res = await fetch(`${url}/streams/http-${seq++}/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ type: "OrderPlaced", data }),
  });
  if (res.status !== 201) throw new Error(`append failed: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
  if (url === devUrl) devAppends++;
};

const sockets: WebSocket[] = [];
let eventsReceived = 0;
for (let i = 0; i < SUBSCRIBERS; i++) {
  const socket = new WebSocket(`ws://127.0.0.1:${ports.EVENTBUS_WS_PORT}/?token=${token}`);
  await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
  await new Promise<void>((resolve) => {
    socket.once("message", () => resolve());
    socket.send(JSON.stringify({ action: "subscribe", id: "s", topic: "$all" }));
  });
  if (i === 0) {
    socket.on("message", (raw) => {
      const frame = JSON.parse(raw.toString()) as { type: string; events?: unknown[] };
      if (frame.type === "events") eventsReceived += frame.events?.length ?? 0;
    });
  }
  sockets.push(socket);
}

// The same number of appends through each side, 8 at a time, before anything is measured (see above).
for (const url of [devUrl, bareUrl]) {
  let left = WARMUP;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (left-- > 0) await post(url)();
    }),
  );
}

console.log(
  `bench:fanout (dev appends)  npm run dev with realtime on, ${SUBSCRIBERS} subscriber(s) on $all, vs a bare node:http insert; ${SECONDS}s per case and side after ${WARMUP} appends through each\n`,
);
/**
 * CPU ms used so far by each thread of a process (Linux; empty elsewhere): in `npm run dev` the main thread
 * serves HTTP, worker threads run the listener, the broadcaster and the stand-ins, and V8's helper threads
 * collect garbage and compile.
 */
function threadCpuMs(pid: number): Map<number, number> {
  const threads = new Map<number, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      threads.set(Number(tid), (Number(fields[11]) + Number(fields[12])) * 10);
    }
  } catch {
    // No /proc, or a thread ended while being read: the figure is left out.
  }
  return threads;
}

const cases: BenchCase[] = [];
/** CPU ms per 1,000 appends by process group, and in all (see processCpu.ts). */
const cpu: Record<string, Record<"ours" | "baseline", Record<string, number>>> = {};
for (const concurrency of (process.env.BENCH_CLIENTS ?? "1,8").split(",").map(Number)) {
  const name = `HTTP single append via npm run dev, ${concurrency} client(s)`;
  const threadsBefore = threadCpuMs(dev.pid!);
  const appendsBefore = devAppends;
  const figures = await compareRatesWithCpu(SECONDS, 1, post(devUrl), post(bareUrl), concurrency);
  const threadsAfter = threadCpuMs(dev.pid!);
  cases.push(report(name, figures.ours.perSecond, figures.baseline.perSecond, 0.7));
  // `self` is this process (the client, and the bare server), `node` the npm run dev process (all its
  // threads), `postgres` the server and its backends. The total is the machine's work per append: on two
  // cores shared with other work, the steadier figure.
  const side = (figures: Record<string, number>) => {
    const groups = { client: figures.self ?? 0, dev: figures.node ?? 0, postgres: figures.postgres ?? 0 };
    return { ...groups, total: groups.client + groups.dev + groups.postgres };
  };
  cpu[name] = {
    ours: side(figures.ours.cpuMsPerThousand),
    baseline: side(figures.baseline.cpuMsPerThousand),
  };
  const line = (groups: Record<string, number>) =>
    Object.entries(groups)
      .map(([group, ms]) => `${group} ${ms.toFixed(0)}`)
      .join(", ");
  console.log(
    `  CPU ms per 1,000 appends: ours ${line(cpu[name].ours)};  baseline ${line(cpu[name].baseline)}`,
  );
  // The dev process by thread, over the whole case (its rounds' warm-ups included, and its idle time
  // while the baseline ran): the main thread, the busiest other one (the listener while nobody
  // subscribes), and the rest (V8's garbage collection and compiler threads, the other workers).
  const appends = devAppends - appendsBefore;
  const spent = [...threadsAfter].map(([tid, ms]) => ({ tid, ms: ms - (threadsBefore.get(tid) ?? 0) }));
  const main = spent.find((t) => t.tid === dev.pid)?.ms ?? 0;
  const others = spent.filter((t) => t.tid !== dev.pid).sort((a, b) => b.ms - a.ms);
  const rest = others.slice(1).reduce((sum, t) => sum + t.ms, 0);
  const perAppend = (ms: number) => ((1000 * ms) / Math.max(1, appends)).toFixed(0);
  console.log(
    `  npm run dev by thread, ms per 1,000 appends: main ${perAppend(main)}, busiest other ${perAppend(others[0]?.ms ?? 0)}, the rest ${perAppend(rest)}`,
  );
}
if (SUBSCRIBERS > 0) {
  await new Promise((resolve) => setTimeout(resolve, 2000));
  console.log(
    `\nthe first subscriber received ${eventsReceived} events live (of ${devAppends} appended through npm run dev)`,
  );
}
printJsonSummary(cases, { cpuMsPerThousandAppends: cpu });

for (const socket of sockets) socket.terminate();
dev.kill("SIGINT");
await new Promise((resolve) => dev.once("exit", resolve));
bare.close();
await sql.end({ timeout: 5 });
await pg.stop();
process.exit(0);
