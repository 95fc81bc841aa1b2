import { readdirSync, readFileSync } from "node:fs";

/**
 * CPU time used by this process (`self`) and by its descendants, grouped by command name (`postgres` for
 * the server and its backends, `node` for a child Node process such as the SQS stand-in). On a shared
 * machine the rates swing with the neighbours' load, but CPU spent per message barely does, so it tells
 * where a gap to a baseline comes from. Linux only (reads /proc); elsewhere only this process is counted.
 */
export interface CpuSnapshot {
  self: number;
  /** Descendants by pid: command name and CPU ms used so far. */
  children: Map<number, { comm: string; ms: number }>;
}

/** CPU ms spent between two snapshots, by group. */
export type CpuSpent = Record<string, number>;

/** USER_HZ, the unit of /proc/<pid>/stat times: 100 on every Linux build Node runs on. */
const TICKS_PER_SECOND = 100;

function readProcs(): Array<{ pid: number; ppid: number; comm: string; ms: number }> {
  const procs = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name is in parentheses and may itself hold spaces or parentheses.
      const close = stat.lastIndexOf(")");
      const fields = stat.slice(close + 2).split(" ");
      procs.push({
        pid: Number(entry),
        ppid: Number(fields[1]),
        comm: stat.slice(stat.indexOf("(") + 1, close),
        ms: ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND,
      });
    } catch {
      // The process ended between listing and reading.
    }
  }
  return procs;
}

/** CPU ms used so far by the given processes together (those that ended count as 0). */
export function processesCpuMs(pids: readonly number[]): number {
  const wanted = new Set(pids);
  let ms = 0;
  for (const p of readProcs()) if (wanted.has(p.pid)) ms += p.ms;
  return ms;
}

/** CPU used so far by this process and by each live descendant. */
export function cpuSnapshot(): CpuSnapshot {
  const usage = process.cpuUsage();
  const snapshot: CpuSnapshot = { self: (usage.user + usage.system) / 1000, children: new Map() };
  let procs: ReturnType<typeof readProcs>;
  try {
    procs = readProcs();
  } catch {
    return snapshot;
  }
  const byParent = new Map<number, typeof procs>();
  for (const p of procs) byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p]);
  const queue = [...(byParent.get(process.pid) ?? [])];
  while (queue.length > 0) {
    const p = queue.shift()!;
    snapshot.children.set(p.pid, { comm: p.comm, ms: p.ms });
    queue.push(...(byParent.get(p.pid) ?? []));
  }
  return snapshot;
}

/**
 * CPU ms spent between two snapshots, by group. Compared process by process: a process that ended in
 * between (an idle pool connection closing, say) drops out instead of turning the sum negative, and its
 * last moments go uncounted.
 */
export function cpuSpent(before: CpuSnapshot, after: CpuSnapshot): CpuSpent {
  const spent: CpuSpent = { self: after.self - before.self };
  for (const [pid, { comm, ms }] of after.children) {
    const earlier = before.children.get(pid);
    const delta = earlier && earlier.comm === comm ? ms - earlier.ms : ms;
    spent[comm] = (spent[comm] ?? 0) + Math.max(0, delta);
  }
  return spent;
}

/** Adds CPU spent in several phases, by group. */
export function addCpu(...spent: CpuSpent[]): CpuSpent {
  const total: CpuSpent = {};
  for (const s of spent) for (const [group, ms] of Object.entries(s)) total[group] = (total[group] ?? 0) + ms;
  return total;
}
