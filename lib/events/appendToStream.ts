import type { Sql, TransactionSql } from "postgres";
import { EventBusError, WrongExpectedVersionError } from "../errors.ts";
import { assertStreamId } from "./streamId.ts";
import type { ExpectedVersion, ProposedEvent } from "./types.ts";
import { validateEvents } from "./validateEvents.ts";

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
  | { ok: true; version: number; events: AppendResult["events"]; created: false }
  | { ok: false; reason: "wrong_expected_version"; actual: number }
  | { ok: false; reason: "duplicate_event_id"; ids: string[] };

/**
 * Appends events to a stream atomically, checking `expectedVersion` first.
 *
 * Pass a transaction to append as part of your own unit of work (the outbox case): the events commit or
 * roll back with your other writes, and subscribers are woken only if it commits. Note that appends are
 * serialised cluster-wide until the enclosing transaction ends, so keep such transactions short.
 *
 * Re-sending events whose ids are all already in the stream is a success that appends nothing
 * (`created: false`). Ids already used elsewhere fail with `DUPLICATE_EVENT_ID`.
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
  const [row] = await sql<[{ outcome: AppendOutcome }]>`
    select eventbus.append_to_stream(${streamId}, ${String(expectedVersion)}, ${sql.json(valid as never)}) as outcome`;
  const outcome = row!.outcome;
  if (outcome.ok && !outcome.created) {
    return { streamId, version: outcome.version, events: outcome.events, created: false };
  }
  if (outcome.ok) {
    const firstVersion = outcome.version - valid.length + 1;
    const events = valid.map((event, i) => ({
      id: event.id,
      version: firstVersion + i,
      position: outcome.firstPosition + i,
    }));
    return { streamId, version: outcome.version, events, created: true };
  }
  if (outcome.reason === "wrong_expected_version") {
    throw new WrongExpectedVersionError(streamId, expectedVersion, outcome.actual);
  }
  throw new EventBusError(
    "DUPLICATE_EVENT_ID",
    "Some of these event ids are already used, but not as this exact batch in this stream.",
    { ids: outcome.ids },
  );
}
