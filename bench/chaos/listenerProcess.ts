import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ProcessSample } from "./memory.ts";

const probe = fileURLToPath(new URL("./probe.ts", import.meta.url));
const root = fileURLToPath(new URL("../../", import.meta.url));

export interface ListenerSupervisor {
  /** Starts the first listener and resolves once it logged that it started. */
  start(): Promise<void>;
  /** SIGKILL (no cleanup, as when a task is lost), then a fresh listener, as ECS would start one. */
  killAndRestart(): Promise<void>;
  /** The running listener's memory and handles, or `null` when none answers within a second. */
  sample(): Promise<ProcessSample | null>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  readonly stats: ListenerStats;
}

export interface ListenerStats {
  started: number;
  killed: number;
  /** Exits nobody asked for (a crash): the supervisor restarts the listener after a second. */
  unexpectedExits: number;
  /** Log lines at warning or error level, by message, across every incarnation. */
  problems: Map<string, number>;
  /** The last few KB of output, for a report when something went wrong. */
  tail: string;
}

/**
 * Runs the real listener entry point (`functions/listener/main.ts`) as a child process, the way
 * `test/listener/support.ts` does, and keeps one running: a crash is counted and followed by a restart.
 */
export function superviseListener(env: Record<string, string>): ListenerSupervisor {
  const stats: ListenerStats = { started: 0, killed: 0, unexpectedExits: 0, problems: new Map(), tail: "" };
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let expectingExit = false;
  let stopped = false;
  let probeId = 0;

  const record = (line: string) => {
    stats.tail = `${stats.tail + line}\n`.slice(-8000);
    let parsed:
      | { level?: string; message?: string; error?: { message?: string }; reason?: string }
      | undefined;
    try {
      parsed = JSON.parse(line);
    } catch {
      if (/error|warn/i.test(line))
        stats.problems.set(line.slice(0, 160), (stats.problems.get(line.slice(0, 160)) ?? 0) + 1);
      return;
    }
    if (parsed?.level === "WARN" || parsed?.level === "ERROR") {
      const detail = parsed.error?.message ?? parsed.reason ?? "";
      const key = `${parsed.level} ${parsed.message ?? ""}${detail ? `: ${String(detail).slice(0, 120)}` : ""}`;
      stats.problems.set(key, (stats.problems.get(key) ?? 0) + 1);
    }
  };

  function spawnOne(): Promise<void> {
    stats.started++;
    const proc = spawn(
      process.execPath,
      ["--import", "tsx", "--import", probe, "functions/listener/main.ts"],
      {
        env: { PATH: process.env.PATH ?? "", ...env, EVENTBUS_LISTENER_ID: `chaos-${stats.started}` },
        stdio: ["ignore", "pipe", "pipe", "ipc"],
        cwd: root,
      },
    );
    child = proc;
    let buffer = "";
    let resolveReady: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      resolveReady = resolve;
    });
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline = buffer.indexOf("\n");
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line.includes("listener started")) resolveReady();
        record(line);
        newline = buffer.indexOf("\n");
      }
    };
    proc.stdout!.on("data", onData);
    proc.stderr!.on("data", onData);
    exited = new Promise<void>((resolve) => {
      proc.once("exit", () => {
        resolveReady();
        resolve();
        if (child === proc) child = undefined;
        if (!expectingExit && !stopped) {
          stats.unexpectedExits++;
          setTimeout(() => {
            if (!stopped && !child) void spawnOne();
          }, 1000);
        }
      });
    });
    return ready;
  }

  async function killCurrent(signal: NodeJS.Signals) {
    if (!child) return;
    expectingExit = true;
    child.kill(signal);
    await exited;
    expectingExit = false;
  }

  return {
    stats,
    start: () => spawnOne(),
    async killAndRestart() {
      await killCurrent("SIGKILL");
      stats.killed++;
      await spawnOne();
    },
    sample() {
      return child ? probeChild(child, ++probeId) : Promise.resolve(null);
    },
    async stop() {
      stopped = true;
      await killCurrent("SIGTERM");
    },
  };
}

/** Asks a child that preloads `probe.ts` for its memory and handles; `null` when it does not answer in 1 s. */
export function probeChild(proc: ChildProcess, id: number): Promise<ProcessSample | null> {
  if (!proc.connected) return Promise.resolve(null);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      proc.off("message", onMessage);
      resolve(null);
    }, 1000);
    const onMessage = (message: { type?: string; id?: number; sample?: ProcessSample }) => {
      if (message?.type !== "probe" || message.id !== id) return;
      clearTimeout(timer);
      proc.off("message", onMessage);
      resolve(message.sample ?? null);
    };
    proc.on("message", onMessage);
    proc.send({ type: "probe", id });
  });
}
