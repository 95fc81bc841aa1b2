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
  /**
   * An append starts; returns the NOTIFY its own transaction should send, when one is due. `canCarryOwn`:
   * the append can name its own last position in that NOTIFY.
   */
  begin(canCarryOwn: boolean): Carry | undefined;
  /** An append is over: `committed` is its last position if it committed, `carried` what begin returned. */
  end(committed: number | undefined, carried: Carry | undefined): void;
}

/**
 * A wake-up handed to an append: for earlier commits (`position` to name, and the timer that sends it if
 * the append is late), or for the append's own commit (`own`: it names its own last position).
 */
interface Carry {
  position: number;
  own: boolean;
  watch: NodeJS.Timeout | undefined;
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
  let immediate: NodeJS.Immediate | undefined;
  /** The timer found appends in flight once already: the next time it fires, it sends. */
  let overdue = false;
  /** The append carrying the last wake-up handed out, until it ends. */
  let carrier: Carry | undefined;
  /** When the last NOTIFY was sent (or handed to an append): a commit soon after it waits for the next window. */
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
  const sent = () => {
    carrier = undefined;
    clearTimeout(timer);
    clearImmediate(immediate);
    timer = undefined;
    immediate = undefined;
    overdue = false;
    pending = false;
    lastSentAt = performance.now();
  };
  const notify = () => {
    sent();
    return send();
  };
  const onTimer = () => {
    timer = undefined;
    // Appends in flight: the next one to start (or the last to end) sends it, without a statement of its own.
    // Once only, so that an append stuck behind a lock holds the others' wake-up back for one more window.
    if (inFlight > 0 && !overdue) {
      overdue = true;
      timer = setTimeout(onTimer, MAX_DEFER_MS).unref();
      return;
    }
    void notify();
  };
  const note = (committed: number) => {
    position = Math.max(position, committed);
    pending = true;
  };
  return {
    begin(canCarryOwn) {
      inFlight++;
      if (performance.now() - lastSentAt < MAX_DEFER_MS || neverDefer.has(sql)) return undefined;
      if (!pending) {
        // Alone after a pause: its commit will need a wake-up at once, and its own transaction can send it
        // (a NOTIFY delivered at its commit), which saves the statement and transaction of one sent after.
        // Only when no other append of this process is in flight, so its notifying commits never queue
        // for Postgres's notify lock behind each other.
        if (inFlight > 1 || !canCarryOwn) return undefined;
        sent();
        carrier = { position: 0, own: true, watch: undefined };
        return carrier;
      }
      // A wake-up is due: this append's own transaction sends it (a NOTIFY at its commit, which comes after
      // every commit noted so far), which saves a statement and a transaction. One append per window pays
      // Postgres's notify lock at commit, not every append.
      sent();
      // An append can wait long for its commit (behind another writer of its stream, an open outbox
      // transaction, say); the commits before it must not: past the timer, they get a NOTIFY of their own.
      const watch = setTimeout(() => {
        if (carrier?.watch === watch) void notify();
      }, 2 * MAX_DEFER_MS).unref();
      carrier = { position, own: false, watch };
      return carrier;
    },
    end(committed, carried) {
      inFlight--;
      if (carried !== undefined && carrier === carried) {
        clearTimeout(carried.watch);
        carrier = undefined;
      }
      // The carrying statement failed or refused the append: its NOTIFY may not have gone out.
      if (carried !== undefined && committed === undefined) {
        pending = true;
        lastSentAt = Number.NEGATIVE_INFINITY;
      }
      // A commit that sent its own wake-up needs no other.
      if (committed !== undefined && carried?.own) position = Math.max(position, committed);
      else if (committed !== undefined) note(committed);
      if (!pending) return;
      // Appends still in flight will wake the listeners after they end, which covers this commit too;
      // the timer bounds the wait when they keep coming (or one is stuck behind a lock).
      // A writer appending back to back (its next append starts as this one ends) is no quieter than many
      // at once: after a NOTIFY, the next one waits out the window, so a lone append after a pause still
      // wakes the listeners at once but a busy writer sends at most one NOTIFY per window, carried by the
      // append that starts once the window is over.
      const sinceLast = performance.now() - lastSentAt;
      if (inFlight === 0 && neverDefer.has(sql)) void notify();
      else if (inFlight === 0 && sinceLast >= MAX_DEFER_MS) {
        // After this turn of the event loop: an append started right away (a writer's next one) carries it.
        immediate ??= setImmediate(() => {
          immediate = undefined;
          if (pending) void notify();
        });
      } else timer ??= setTimeout(onTimer, inFlight === 0 ? MAX_DEFER_MS - sinceLast : MAX_DEFER_MS).unref();
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
 * Makes the pool's appends wake the listeners as soon as none is in flight, never later. For processes that
 * may be frozen right after they answer, as Lambda functions are between invocations: a wake-up held back
 * for a few milliseconds would wait for the next invocation or the listeners' slow poll.
 */
export function neverDeferWakeUps(sql: Sql): void {
  neverDefer.add(sql);
}

/** An append that commits on its own, as {@link trackAppend} follows it. */
export class TrackedAppend {
  /**
   * When set, a wake-up is due and this append's own statement must send it: `"own"`, a NOTIFY on
   * {@link EVENTS_CHANNEL} naming the append's own last position; a number, a NOTIFY naming that position
   * (the last one committed before the append). Either way no statement of its own is needed.
   */
  readonly carry: number | "own" | undefined;
  readonly #waker: Waker;
  readonly #carried: Carry | undefined;

  constructor(waker: Waker, canCarryOwn: boolean) {
    this.#waker = waker;
    this.#carried = waker.begin(canCarryOwn);
    this.carry = this.#carried?.own ? "own" : this.#carried?.position;
  }

  /** Call when the append is over, with its last position if it committed. */
  done(committedPosition?: number): void {
    this.#waker.end(committedPosition, this.#carried);
  }
}

/**
 * Marks the start of an append that commits on its own (not in a caller's transaction). The listeners are
 * woken once no other append of the pool is in flight (one NOTIFY then covers all of them), or at most
 * {@link MAX_DEFER_MS} ms after the commit: an append after a pause wakes them right away, before its
 * response, through a NOTIFY in its own transaction when `canCarryOwn` (it can name its own position), else
 * one sent after its commit; a busy process, with many appends in flight or one writer appending back to
 * back, wakes them once per window, through the NOTIFY of the first append that starts after the window is
 * over (`carry`), instead of once per append (unless {@link neverDeferWakeUps}).
 */
export function trackAppend(sql: Sql, canCarryOwn = false): TrackedAppend {
  return new TrackedAppend(waker(sql), canCarryOwn);
}
