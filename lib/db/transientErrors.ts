import postgres from "postgres";
import { EventBusError } from "../errors.ts";

/** Seconds a client is asked to wait before retrying a request the database could not serve in time. */
export const RETRY_AFTER_SECONDS = 1;

/**
 * SQLSTATEs after which the statement (and its transaction) was rolled back and trying again later is the
 * right move: the session's `lock_timeout` (55P03) or `statement_timeout` (57014) fired, the transaction
 * lost a deadlock or serialisation race, or the server is overloaded or restarting.
 */
const transientSqlStates = new Set([
  "55P03", // lock_not_available: lock_timeout, e.g. behind an open outbox transaction on the same stream
  "57014", // query_canceled: statement_timeout
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "53300", // too_many_connections
  "57P01", // admin_shutdown
  "57P03", // cannot_connect_now
]);

/** postgres.js's own codes for a connection that could not be made or was lost. */
const connectionErrorCodes = new Set([
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
]);

/**
 * The client-facing form of a database error that a retry can cure: `UNAVAILABLE` (503) with
 * `retryAfterSeconds`, which the HTTP edge also sends as `Retry-After`. Nothing of the database's message
 * (SQL, object names) is kept. `undefined` for every other error.
 *
 * Retrying is safe: a timed-out statement rolled back, and an append retried with the same event ids is
 * idempotent even if a lost connection hid a commit.
 */
export function transientDatabaseError(error: unknown): EventBusError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  const transient =
    (error instanceof postgres.PostgresError && transientSqlStates.has(error.code)) ||
    (error instanceof Error && typeof code === "string" && connectionErrorCodes.has(code));
  if (!transient) return undefined;
  return new EventBusError(
    "UNAVAILABLE",
    `The database could not complete this request in time. Retry after ${RETRY_AFTER_SECONDS} s (appends with the same event ids are idempotent).`,
    { retryAfterSeconds: RETRY_AFTER_SECONDS },
    { cause: error },
  );
}
