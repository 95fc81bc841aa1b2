import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createSql, type Sql } from "../../lib/db/client.ts";
import type { BusCommand, BusProcessOptions } from "./busProcess.ts";
import type { FaultCounts } from "./faultProxy.ts";
import type { ProcessSample } from "./memory.ts";

const entry = fileURLToPath(new URL("./busProcess.ts", import.meta.url));
const root = fileURLToPath(new URL("../../", import.meta.url));

export interface BusStats {
  listenerKills: number;
  listenerUnexpectedExits: number;
  listenerProblems: Array<[string, number]>;
  handlerProblems: Array<[string, number]>;
  proxy: FaultCounts;
}

export interface BusHandle {
  httpUrl: string;
  wsUrl: string;
  sqsEndpoint: string;
  proxyEndpoint: string;
  adminToken: string;
  /** The instrument's own pool on the bus's database (checkpoints and head at the end). */
  sql: Sql;
  killListener(): Promise<number>;
  restartPostgres(downMs: number): Promise<void>;
  sample(): Promise<{
    bus: ProcessSample;
    listener: ProcessSample | null;
    standIns: ProcessSample | null;
    postgres: ProcessSample | null;
  }>;
  stats(): Promise<BusStats>;
  stop(): Promise<void>;
}

/** Starts the bus process (`busProcess.ts`) and resolves once it is serving. */
export function spawnBus(options: BusProcessOptions, log: (line: string) => void): Promise<BusHandle> {
  const child = spawn(process.execPath, ["--import", "tsx", entry, JSON.stringify(options)], {
    cwd: root,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    stdio: ["ignore", "inherit", "pipe", "ipc"],
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) if (line) log(line);
  });
  let nextId = 0;
  const pending = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>();
  const call = <T>(command: BusCommand): Promise<T> =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      pending.set(id, { resolve, reject });
      child.send({ id, ...command });
    });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => {
      const error = new Error(`the bus process exited with ${code}`);
      for (const p of pending.values()) p.reject(error);
      pending.clear();
      reject(error);
    });
    child.on("message", (message: any) => {
      if (message?.type === "ready") {
        const info = message.info;
        const sql = createSql(info.databaseUrl, { max: 2 });
        resolve({
          ...info,
          sql,
          killListener: () => call<number>({ cmd: "killListener" }),
          restartPostgres: (downMs) => call<void>({ cmd: "restartPostgres", downMs }),
          sample: () => call({ cmd: "sample" }),
          stats: () => call<BusStats>({ cmd: "stats" }),
          async stop() {
            await sql.end({ timeout: 2 }).catch(() => {});
            const exited = new Promise((done) => child.once("exit", done));
            await call({ cmd: "stop" }).catch(() => {});
            await Promise.race([exited, new Promise((done) => setTimeout(done, 15_000))]);
            if (child.exitCode === null) child.kill("SIGKILL");
          },
        });
        return;
      }
      const waiter = pending.get(message?.id);
      if (!waiter) return;
      pending.delete(message.id);
      if (message.error) waiter.reject(new Error(message.error));
      else waiter.resolve(message.result);
    });
  });
}
