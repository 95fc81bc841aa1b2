/**
 * The bus of a chaos run in a process of its own (HTTP and WebSocket handlers, broadcaster, stand-ins,
 * fault proxy; it supervises the listener and Postgres), so that its memory and handles are the bus's
 * alone and not those of the instrument that counts every event. Commands arrive over IPC from
 * `busClient.ts`.
 */
import { startChaosBus } from "./bus.ts";
import { seededRandom } from "./faultProxy.ts";
import { captureHandlerLogs } from "./hostLog.ts";
import { takeSample, treePrivateBytes } from "./memory.ts";

export interface BusProcessOptions {
  seed: number;
  failureRate: number;
  latencyMs: [number, number];
  listenerPollMs: number;
}

export type BusCommand =
  | { cmd: "killListener" }
  | { cmd: "restartPostgres"; downMs: number }
  | { cmd: "sample" }
  | { cmd: "stats" }
  | { cmd: "stop" };

const send = (message: unknown) => process.send?.(message);
const options = JSON.parse(process.argv[2] ?? "{}") as BusProcessOptions;
const handlerLogs = captureHandlerLogs();
const bus = await startChaosBus({
  fault: {
    failureRate: options.failureRate,
    latencyMs: options.latencyMs,
    random: seededRandom(options.seed + 1),
  },
  listenerPollMs: options.listenerPollMs,
  log: (message) => process.stderr.write(`[chaos bus] ${message}\n`),
});

async function handle(command: BusCommand): Promise<unknown> {
  switch (command.cmd) {
    case "killListener":
      await bus.listener.killAndRestart();
      return bus.listener.stats.killed;
    case "restartPostgres":
      await bus.restartPostgres(command.downMs);
      return true;
    case "sample": {
      const pid = bus.postgresPid();
      const pss = pid ? treePrivateBytes(pid) : null;
      return {
        bus: takeSample(),
        listener: await bus.listener.sample(),
        standIns: await bus.sampleStandIns(),
        postgres: pss === null ? null : { at: Date.now(), rssBytes: pss, heapUsedBytes: null, handles: null },
      };
    }
    case "stats":
      return {
        listenerKills: bus.listener.stats.killed,
        listenerUnexpectedExits: bus.listener.stats.unexpectedExits,
        listenerProblems: [...bus.listener.stats.problems],
        handlerProblems: [...handlerLogs],
        proxy: bus.proxy.counts,
      };
    case "stop":
      await bus.stop();
      setTimeout(() => process.exit(0), 50);
      return true;
  }
}

process.on("message", (message: { id: number } & BusCommand) => {
  handle(message).then(
    (result) => send({ id: message.id, result }),
    (error: Error) => send({ id: message.id, error: error.message }),
  );
});
process.on("disconnect", () => {
  // The instrument died: take everything down rather than leave Postgres and the listener behind.
  void bus.stop().finally(() => process.exit(1));
});
send({
  type: "ready",
  info: {
    httpUrl: bus.httpUrl,
    wsUrl: bus.wsUrl,
    sqsEndpoint: bus.sqsEndpoint,
    proxyEndpoint: bus.proxy.endpoint,
    adminToken: bus.adminToken,
    databaseUrl: process.env.DATABASE_URL,
  },
});
