import type { Sql } from "postgres";
import type { ListenerLog } from "./listenerLog.ts";

/**
 * A streak of failed sends shorter than this is not recorded: one throttled call or reset connection,
 * retried a moment later, is no failing subscription (and a throttling storm must not turn into a write
 * per page).
 */
const RECORD_AFTER_MS = 1_000;
/** While a failure repeats unchanged, it is written again at most this often (its `last_error_at`). */
const REWRITE_SAME_FAILURE_MS = 10_000;

/** What a forwarder reports about its sends; {@link trackForwardingFailures} keeps the checkpoint row told. */
export interface ForwardingFailures {
  /** A send failed and will be retried; `reason` is shown to operators as is (no internal detail). */
  failed(reason: string): void;
  /** SQS accepted a send: the subscription is no longer failing. */
  succeeded(): void;
}

/**
 * Keeps a target's checkpoint row telling whether, and why, its sends fail (migration 0018), so that a
 * subscription whose queue was deleted or whose access was denied shows `failing` with SQS's reason instead
 * of only growing lag. A streak is recorded once it has lasted {@link RECORD_AFTER_MS}, dated from its
 * start. Writes are chained in call order, never awaited by the forwarder, and their own failure is only
 * logged: bookkeeping must never hold up or break forwarding.
 *
 * The row is cleared when tracking starts, so that a failure left by an earlier owner (a listener that
 * crashed while the queue was missing, say) does not outlive it: if the cause remains, the first retry
 * records it again within seconds.
 */
export function trackForwardingFailures(sql: Sql, name: string, log: ListenerLog): ForwardingFailures {
  /** When the current streak of failed sends began, if one is going on. */
  let streakSince: number | undefined;
  /** The streak is recorded (the row says `failing`). */
  let failing = false;
  let last: { reason: string; at: number } | undefined;
  let writes = Promise.resolve();
  const write = (statement: () => Promise<unknown>) => {
    writes = writes.then(statement).then(
      () => {},
      (error) =>
        log("warn", "could not record whether the target's sends fail", {
          target: name,
          error: (error as Error).message,
        }),
    );
  };
  const clear = () =>
    write(
      () => sql`
        update eventbus.checkpoints set failing_since = null
        where name = ${name} and failing_since is not null`,
    );
  clear();
  return {
    failed(reason) {
      const now = Date.now();
      streakSince ??= now;
      if (now - streakSince < RECORD_AFTER_MS) return;
      if (failing && last?.reason === reason && now - last.at < REWRITE_SAME_FAILURE_MS) return;
      failing = true;
      last = { reason, at: now };
      const since = new Date(streakSince);
      write(
        () => sql`
          update eventbus.checkpoints
          set last_error = ${reason}, last_error_at = now(), failing_since = coalesce(failing_since, ${since})
          where name = ${name}`,
      );
    },
    succeeded() {
      streakSince = undefined;
      if (!failing) return;
      failing = false;
      last = undefined;
      clear();
    },
  };
}
