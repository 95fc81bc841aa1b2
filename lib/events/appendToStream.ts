import type { Sql, TransactionSql } from "postgres";
import { EventBusError, WrongExpectedVersionError } from "../errors.ts";
import { assertStreamId } from "./streamId.ts";
import type { ExpectedVersion, ProposedEvent } from "./types.ts";
import { validateEvents } from "./validateEvents.ts";
import { wakeListeners } from "./wakeListeners.ts";

export interface AppendResult {
  streamId: string;
  /** The stream's version after the append. */
  version: number;
  events: Array<{ id: string; version: number; position: number }>;
  /** `false` when every event was already in the stream (an idempotent retry): nothing was appended. */
  created: boolean;
}

type AppendOutcome =
  | { ok: true; version: number; firstPosition: number; created: true }
  | { ok: true; version: number; positions: number[]; created: true }
  | { ok: true; version: number; events: AppendResult["events"]; created: false }
  | { ok: false; reason: "wrong_expected_version"; actual: number }
  | { ok: false; reason: "duplicate_event_id"; ids: string[] };

/**
 * Appends events to a stream atomically, checking `expectedVersion` first.
 *
 * Pass a transaction to append as part of your own unit of work (the outbox case): the events commit or
 * roll back with your other writes, and subscribers are woken only if it commits. Appends to other streams
 * never wait for your transaction, but delivery of everything appended after it began waits until it ends
 * (readers stop at the gap-safe head), so keep such transactions short. Appends to the same stream wait for
 * it (they take turns on the stream's row).
 *
 * An event's identity is its `source` and `id` (CloudEvents), within its stream; events without a
 * `source` attribute share the bus's. Re-sending events that are all already in the stream is a success
 * that appends nothing (`created: false`); the same id from another source is another event. Events of
 * this stream re-sent in a different batch fail with `DUPLICATE_EVENT_ID`.
 *
 * @throws {WrongExpectedVersionError} when the stream is not at `expectedVersion`.
 * @throws {EventBusError} `VALIDATION_FAILED`, `PAYLOAD_TOO_LARGE` or `DUPLICATE_EVENT_ID`.
 *
 * @example
 * ```ts
 * await sql.begin(async (tx) => {
 *   await tx`update orders set status = 'paid' where id = ${orderId}`;
 *   await appendToStream(tx, `order-${orderId}`, [{ type: "OrderPaid", data: { orderId } }], {
 *     expectedVersion: 3,
 *   });
 * });
 * ```
 */
export async function appendToStream(
  sql: Sql | TransactionSql,
  streamId: string,
  events: readonly ProposedEvent[],
  options: { expectedVersion?: ExpectedVersion } = {},
): Promise<AppendResult> {
  assertStreamId(streamId);
  const expectedVersion = options.expectedVersion ?? "any";
  const valid = validateEvents(streamId, events);
  // Inside a caller's transaction only its commit can publish the events, so the wake-up rides along with
  // it; on its own, the append commits first and wakes listeners after (see wakeListeners).
  const inTransaction = "savepoint" in sql;
  // Only ids a caller chose can already be in the stream (a retry); the ones generated here cannot.
  const callerIds = events.some((event) => event.id !== undefined);
  const [row] = await sql<[{ outcome: AppendOutcome }]>`
    select eventbus.append_to_stream(${streamId}, ${String(expectedVersion)},
      ${`[${valid.map((e) => e.json).join(",")}]`}::text::jsonb, ${callerIds}, ${inTransaction}) as outcome`;
  const outcome = row!.outcome;
  if (outcome.ok && !outcome.created) {
    return { streamId, version: outcome.version, events: outcome.events, created: false };
  }
  if (outcome.ok) {
    const firstVersion = outcome.version - valid.length + 1;
    const positions =
      "positions" in outcome ? outcome.positions : valid.map((_, i) => outcome.firstPosition + i);
    const events = valid.map((event, i) => ({
      id: event.id,
      version: firstVersion + i,
      position: positions[i]!,
    }));
    // Not awaited: the NOTIFY is written to a free connection within this tick's microtasks (so before a
    // Lambda handler's response), and an append never waits for, or fails over, a wake-up.
    if (!inTransaction) void wakeListeners(sql as Sql, positions.at(-1)!);
    return { streamId, version: outcome.version, events, created: true };
  }
  if (outcome.reason === "wrong_expected_version") {
    throw new WrongExpectedVersionError(streamId, expectedVersion, outcome.actual);
  }
  throw new EventBusError(
    "DUPLICATE_EVENT_ID",
    "Some of these event ids are already used in this stream, but not as this exact batch.",
    { ids: outcome.ids },
  );
}
