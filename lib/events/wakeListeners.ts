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
/** Pools whose process may be frozen between requests (Lambda): they never hold a wake-up back. */
const neverDefer = new WeakSet<Sql>();

function createWaker(sql: Sql): Waker {
  let position = 0;
  let inFlight = 0;
  /** A commit no NOTIFY sent after it covers yet. */
  let pending = false;
  let timer: NodeJS.Timeout | undefined;
  /** When the last NOTIFY was sent: a commit soon after it waits for the next window instead. */
  let lastSentAt = Number.NEGATIVE_INFINITY;
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
    lastSentAt = performance.now();
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
      // A writer appending back to back (its next append starts as this one ends) is no quieter than many
      // at once: after a NOTIFY, the next one waits out the window, so a lone append after a pause still
      // wakes the listeners at once but a busy writer sends at most one NOTIFY per window.
      const sinceLast = performance.now() - lastSentAt;
      if (inFlight === 0 && (sinceLast >= MAX_DEFER_MS || neverDefer.has(sql))) void notify();
      else timer ??= setTimeout(notify, inFlight === 0 ? MAX_DEFER_MS - sinceLast : MAX_DEFER_MS).unref();
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
 * Makes the pool's appends wake the listeners as soon as none is in flight, never later. For processes that
 * may be frozen right after they answer, as Lambda functions are between invocations: a wake-up held back
 * for a few milliseconds would wait for the next invocation or the listeners' slow poll.
 */
export function neverDeferWakeUps(sql: Sql): void {
  neverDefer.add(sql);
}

/**
 * Marks the start of an append that commits on its own (not in a caller's transaction) and returns the
 * function to call when it is over, with its last position if it committed. The listeners are woken once
 * no other append of the pool is in flight (one NOTIFY then covers all of them), or at most
 * {@link MAX_DEFER_MS} ms after the commit: an append after a pause wakes them right away, before its
 * response; a busy process, with many appends in flight or one writer appending back to back, sends a
 * NOTIFY every few milliseconds instead of one per append (unless {@link neverDeferWakeUps}).
 */
export function trackAppend(sql: Sql): (committedPosition?: number) => void {
  const wake = waker(sql);
  wake.begin();
  return (committedPosition) => wake.end(committedPosition);
}
