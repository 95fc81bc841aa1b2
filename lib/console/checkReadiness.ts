import type { Sql } from "postgres";

/** One listener process as Postgres sees it: its lock session and when that session last ran a query. */
export interface ListenerHeartbeat {
  listenerId: string;
  /** Seconds since the lock session last ran a query (the listener checks its session every second). */
  lastSeenSeconds: number;
}

export interface Readiness {
  ready: boolean;
  database: "ok" | "unreachable";
  /** Listeners whose heartbeat is fresh. */
  listeners: ListenerHeartbeat[];
  /** Why the bus is not ready, for an operator; never an internal error message. */
  reason?: string;
}

/**
 * Readiness: Postgres answers, and at least one listener's heartbeat is fresh. A listener's heartbeat is its
 * lock session (see `ownership.ts`): it runs `select pg_backend_pid()` on that session every claim
 * interval, so `pg_stat_activity.state_change` of a live listener is never more than a second or two old,
 * and a hung or partitioned listener goes stale even while its TCP session lingers.
 */
export async function checkReadiness(
  sql: Sql,
  options: { maxHeartbeatAgeSeconds: number; timeoutMs: number },
): Promise<Readiness> {
  let rows: { application_name: string; age: number }[];
  try {
    rows = await withTimeout(
      sql<{ application_name: string; age: number }[]>`
        select application_name, extract(epoch from now() - coalesce(state_change, backend_start))::float8 as age
        from pg_stat_activity
        where application_name like 'eventbus-listener:%' and datname = current_database()`,
      options.timeoutMs,
    );
  } catch {
    return { ready: false, database: "unreachable", listeners: [], reason: "The database did not answer." };
  }
  const listeners = rows
    .filter((r) => r.age <= options.maxHeartbeatAgeSeconds)
    .map((r) => ({
      listenerId: r.application_name.replace(/^eventbus-listener:/, ""),
      lastSeenSeconds: Math.round(r.age * 10) / 10,
    }));
  if (listeners.length === 0) {
    return {
      ready: false,
      database: "ok",
      listeners,
      reason: `No listener has checked in within ${options.maxHeartbeatAgeSeconds} s.`,
    };
  }
  return { ready: true, database: "ok", listeners };
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("timeout")), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
