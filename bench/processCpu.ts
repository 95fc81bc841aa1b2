import { readdirSync, readFileSync } from "node:fs";

/**
 * CPU time (ms) used so far by this process (`self`) and by its live descendants, grouped by command name
 * (`postgres` for the server and its backends, `node` for a child Node process such as the SQS stand-in). On a shared machine rates swing with the neighbours'
 * load, but CPU spent per message barely does, so it tells where a gap to a baseline comes from.
 * Linux only (reads /proc); elsewhere only this process is counted.
 */
export type CpuSnapshot = Record<string, number>;

interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  ms: number;
}

function readProcs(): Proc[] {
  const ticksPerMs = 100 / 1000; // USER_HZ is 100 on every Linux build Node runs on
  const procs: Proc[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name is in parentheses and may itself hold spaces or parentheses.
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const fields = stat.slice(close + 2).split(" ");
      procs.push({
        pid: Number(entry),
        ppid: Number(fields[1]),
        comm,
        ms: (Number(fields[11]) + Number(fields[12])) / ticksPerMs,
      });
    } catch {
      // The process ended between listing and reading.
    }
  }
  return procs;
}

/** CPU used so far, by group (see {@link CpuSnapshot}). */
export function cpuSnapshot(): CpuSnapshot {
  const usage = process.cpuUsage();
  const snapshot: CpuSnapshot = { self: (usage.user + usage.system) / 1000 };
  let procs: Proc[];
  try {
    procs = readProcs();
  } catch {
    return snapshot;
  }
  const children = new Map<number, Proc[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const queue = [...(children.get(process.pid) ?? [])];
  while (queue.length > 0) {
    const p = queue.shift()!;
    snapshot[p.comm] = (snapshot[p.comm] ?? 0) + p.ms;
    queue.push(...(children.get(p.pid) ?? []));
  }
  return snapshot;
}

/** CPU ms used between two snapshots, by group. */
export function cpuSpent(before: CpuSnapshot, after: CpuSnapshot): CpuSnapshot {
  return Object.fromEntries(Object.keys(after).map((group) => [group, after[group]! - (before[group] ?? 0)]));
}

/** Adds CPU spent in several phases, by group. */
export function addCpu(...spent: CpuSnapshot[]): CpuSnapshot {
  const total: CpuSnapshot = {};
  for (const s of spent) for (const [group, ms] of Object.entries(s)) total[group] = (total[group] ?? 0) + ms;
  return total;
}
