import type { Sql } from "postgres";
import { coalescedRuns } from "../coalescedRuns.ts";

/** The channel listeners LISTEN on; its payload is a position, a hint only. */
export const EVENTS_CHANNEL = "eventbus_events";

/**
 * How long a committed append's wake-up may wait for other appends of the same pool still in flight, whose
 * own wake-up would cover it. Bounds the delay a busy process adds to delivery, and the NOTIFY rate to a few
 * hundred a second however many appends there are.
 */
const MAX_DEFER_MS = 4;

interface Waker {
  /** Sends a NOTIFY covering every commit noted so far (coalesced). */
  notify(): Promise<void>;
  /** Notes a commit up to `committed`. */
  note(committed: number): void;
  begin(): void;
  end(committed: number | undefined): void;
}

const wakers = new WeakMap<Sql, Waker>();

function createWaker(sql: Sql): Waker {
  let position = 0;
  let inFlight = 0;
  /** A commit no NOTIFY sent after it covers yet. */
  let pending = false;
  let timer: NodeJS.Timeout | undefined;
  // synchronous_commit off: the NOTIFY's transaction needs a transaction id and so a commit record, which
  // would otherwise wait for a WAL flush of its own, queued in front of the next writer's commit. A
  // notification is a hint that a crash may lose anyway (listeners catch up from their checkpoints).
  // A lost wake-up only delays delivery until the listener's poll; never fail an append over it.
  const send = coalescedRuns(() =>
    sql`select set_config('synchronous_commit', 'off', true), pg_notify(${EVENTS_CHANNEL}, ${String(position)})`.then(
      () => {},
      () => {},
    ),
  );
  const notify = () => {
    clearTimeout(timer);
    timer = undefined;
    pending = false;
    return send();
  };
  const note = (committed: number) => {
    position = Math.max(position, committed);
    pending = true;
  };
  return {
    notify,
    note,
    begin() {
      inFlight++;
    },
    end(committed) {
      inFlight--;
      if (committed !== undefined) note(committed);
      if (!pending) return;
      // Appends still in flight will wake the listeners after they end, which covers this commit too;
      // the timer bounds the wait when they keep coming (or one is stuck behind a lock).
      if (inFlight === 0) void notify();
      else timer ??= setTimeout(notify, MAX_DEFER_MS).unref();
    },
  };
}

function waker(sql: Sql): Waker {
  let found = wakers.get(sql);
  if (!found) {
    found = createWaker(sql);
    wakers.set(sql, found);
  }
  return found;
}

/**
 * Wakes the listeners after an append committed. NOTIFY inside the appending transaction would take
 * Postgres's cluster-wide notify lock in every commit and defeat group commit; sent afterwards, in its own
 * transaction, it costs writers nothing they wait for. Callers of one pool share NOTIFYs: the promise
 * resolves once one sent after the call (so after the caller's commit) is done, and at most one is in
 * flight per pool, however many writers there are.
 */
export function wakeListeners(sql: Sql, position: number): Promise<void> {
  const wake = waker(sql);
  wake.note(position);
  return wake.notify();
}

/**
 * Marks the start of an append that commits on its own (not in a caller's transaction) and returns the
 * function to call when it is over, with its last position if it committed. The listeners are woken once
 * no other append of the pool is in flight (one NOTIFY then covers all of them), or at most
 * {@link MAX_DEFER_MS} ms after the commit: a process serving one request at a time, as a Lambda function
 * does, wakes them right after each append, before its response; a busy one sends a NOTIFY every few
 * milliseconds instead of one per append.
 */
export function trackAppend(sql: Sql): (committedPosition?: number) => void {
  const wake = waker(sql);
  wake.begin();
  return (committedPosition) => wake.end(committedPosition);
}
