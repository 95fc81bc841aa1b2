import { readdirSync, readFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** One process's footprint at one moment. */
export interface ProcessSample {
  at: number;
  rssBytes: number;
  /** `null` for processes that are not Node (Postgres). */
  heapUsedBytes: number | null;
  /** Active libuv handles and requests by type (`process.getActiveResourcesInfo()`), Node only. */
  handles: Record<string, number> | null;
}

let gc: (() => void) | undefined;
/**
 * A full collection before each heap reading, so the figure is the live heap rather than whatever garbage
 * the last minor GC left: without it, heap samples scatter by tens of MB and no slope means anything.
 */
function collect() {
  if (!gc) {
    setFlagsFromString("--expose-gc");
    gc = runInNewContext("gc") as () => void;
  }
  gc();
}

/** This process's memory (after a full GC) and open handles. */
export function takeSample(): ProcessSample {
  collect();
  const memory = process.memoryUsage();
  const handles: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) handles[type] = (handles[type] ?? 0) + 1;
  return { at: Date.now(), rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, handles };
}

/**
 * The private (anonymous) memory of a process tree (Postgres: the postmaster and its backends) as
 * proportional set size, Linux only. Shared buffers are left out on purpose: they fill up with pages as
 * the tables grow, by design and up to `shared_buffers`, and summing RSS would even count them once per
 * backend that touched them. What a backend leaks (caches, prepared statements) is private memory.
 */
export function treePrivateBytes(rootPid: number): number | null {
  try {
    const parents = new Map<number, number>();
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        // The command name may contain spaces and parentheses: the ppid is the 2nd field after the last ')'.
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        parents.set(Number(entry), ppid);
      } catch {
        // the process ended while we looked
      }
    }
    const inTree = (pid: number): boolean => {
      for (let p = pid, hops = 0; p > 1 && hops < 10; p = parents.get(p) ?? 0, hops++) {
        if (p === rootPid) return true;
      }
      return false;
    };
    let total = 0;
    for (const pid of parents.keys()) {
      if (!inTree(pid)) continue;
      try {
        const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
        total += Number(rollup.match(/^Pss_Anon:\s+(\d+)/m)?.[1] ?? 0) * 1024;
      } catch {
        // gone, or not ours to read
      }
    }
    return total;
  } catch {
    return null;
  }
}

/** The total number of open handles in a sample. */
export const handleCount = (sample: ProcessSample): number | null =>
  sample.handles ? Object.values(sample.handles).reduce((a, b) => a + b, 0) : null;

/** Least-squares slope of `value` over time, in units per minute. */
export function slopePerMinute(points: Array<{ at: number; value: number }>): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.at, 0) / n;
  const my = points.reduce((s, p) => s + p.value, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.at - mx) * (p.value - my);
    den += (p.at - mx) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 60_000;
}
