import type { Sql } from "postgres";
import { coalescedRuns } from "../coalescedRuns.ts";

/** The channel listeners LISTEN on; its payload is a position, a hint only. */
export const EVENTS_CHANNEL = "eventbus_events";

const wakers = new WeakMap<Sql, (position: number) => Promise<void>>();

function createWaker(sql: Sql) {
  let position = 0;
  // A lost wake-up only delays delivery until the listener's poll; never fail an append over it.
  const notify = coalescedRuns(() =>
    sql`select pg_notify(${EVENTS_CHANNEL}, ${String(position)})`.then(
      () => {},
      () => {},
    ),
  );
  return (appended: number) => {
    position = Math.max(position, appended);
    return notify();
  };
}

/**
 * Wakes the listeners after an append committed. NOTIFY inside the appending transaction would take
 * Postgres's cluster-wide notify lock in every commit and defeat group commit; sent afterwards, in its own
 * transaction, it costs writers nothing they wait for. Callers of one pool share NOTIFYs: the promise
 * resolves once one sent after the call (so after the caller's commit) is done, and at most one is in
 * flight per pool, however many writers there are.
 */
export function wakeListeners(sql: Sql, position: number): Promise<void> {
  let wake = wakers.get(sql);
  if (!wake) {
    wake = createWaker(sql);
    wakers.set(sql, wake);
  }
  return wake(position);
}
