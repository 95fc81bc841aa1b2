import type { Sql, TransactionSql } from "postgres";
import { EventBusError, validationFailed, WrongExpectedVersionError } from "../errors.ts";
import { assignedEventId, hasAssignedIdForm, newAssignedIdPrefix } from "./assignedEventIds.ts";
import { assertStreamId } from "./streamId.ts";
import type { ExpectedVersion, ProposedEvent } from "./types.ts";
import { type ValidEvent, validateEvents } from "./validateEvents.ts";
import { EVENTS_CHANNEL, trackAppend } from "./wakeListeners.ts";

export interface AppendResult {
  streamId: string;
  /** The stream's version after the append. */
  version: number;
  events: Array<{ id: string; version: number; position: number }>;
  /** `false` when every event was already in the stream (an idempotent retry): nothing was appended. */
  created: boolean;
}

/**
 * The highest version a stream can reach. Versions leave the bus as the CloudEvents extension attribute
 * `streamversion`, a JSON number, and CloudEvents integers are 32-bit: one more and every later event of
 * the stream would be refused by conformant consumers (the official SDKs' strict mode does). Appends that
 * would go past it are refused with `PAYLOAD_TOO_LARGE`, like everything else the bus could not deliver.
 */
export const MAX_STREAM_VERSION = 2_147_483_647;

type AppendOutcome =
  | { ok: true; version: number; firstPosition: number; created: true }
  | { ok: true; version: number; positions: number[]; created: true }
  | { ok: true; version: number; events: AppendResult["events"]; created: false }
  | { ok: false; reason: "wrong_expected_version"; actual: number }
  | { ok: false; reason: "stream_version_limit"; actual: number }
  | { ok: false; reason: "duplicate_event_id"; ids: string[] };

/**
 * Appends events to a stream atomically, checking `expectedVersion` first.
 *
 * Pass a transaction to append as part of your own unit of work (the outbox case): the events commit or
 * roll back with your other writes, and subscribers are woken only if it commits. Appends to other streams
 * never wait for your transaction, but delivery of everything appended after it began waits until it ends
 * (readers stop at the gap-safe head), so keep such transactions short. Appends to the same stream wait for
 * it (they meet in the stream's version index), then append after it or, if they expected the version it
 * took, fail with `WRONG_EXPECTED_VERSION`.
 *
 * An event's identity is its `source` and `id` (CloudEvents), within its stream; events without a
 * `source` attribute share the bus's. Re-sending events that are all already in the stream is a success
 * that appends nothing (`created: false`); the same id from another source is another event. Events of
 * this stream re-sent in a different batch fail with `DUPLICATE_EVENT_ID`. Events without an `id` get one
 * from the bus (a UUIDv7, see lib/events/assignedEventIds.ts), returned in the result; re-sending an event
 * with the id it was given is a retry like any other.
 *
 * @throws {WrongExpectedVersionError} when the stream is not at `expectedVersion`.
 * @throws {EventBusError} `VALIDATION_FAILED`, `PAYLOAD_TOO_LARGE` (also when the append would take the
 *   stream past {@link MAX_STREAM_VERSION}) or `DUPLICATE_EVENT_ID`.
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
  assertExpectedVersion(expectedVersion);
  const valid = validateEvents(streamId, events);
  // Inside a caller's transaction only its commit can publish the events, so the wake-up rides along with
  // it; on its own, the append commits first and wakes listeners after (see trackAppend).
  const inTransaction = "savepoint" in sql;
  const tracked = inTransaction ? undefined : trackAppend(sql as Sql, valid.length === 1);
  let committed: number | undefined;
  // Every id this append assigns starts with it; the database completes each with the event's position.
  const idPrefix = newAssignedIdPrefix();
  try {
    // Only ids a caller chose can already be in the stream (a retry); the ones assigned here cannot.
    const callerIds = valid.some((event) => event.id !== undefined);
    // A re-sent assigned id has no entry in the identity index for the plain statement to meet: the
    // function looks it up through its position.
    const resentAssigned =
      callerIds && valid.some((event) => event.id !== undefined && hasAssignedIdForm(event.id));
    // Inside a caller's transaction a failed statement would abort it: the function meets conflicts without one.
    const outcome =
      inTransaction || resentAssigned
        ? await appendChecked(sql, streamId, expectedVersion, valid, idPrefix, {
            checkIds: callerIds,
            inTransaction,
            carry: tracked?.carry,
          })
        : await appendFresh(
            sql as Sql,
            streamId,
            expectedVersion,
            valid,
            idPrefix,
            callerIds,
            tracked?.carry,
          );
    if (outcome.ok && !outcome.created) {
      return { streamId, version: outcome.version, events: outcome.events, created: false };
    }
    if (outcome.ok) {
      const firstVersion = outcome.version - valid.length + 1;
      const positions =
        "positions" in outcome ? outcome.positions : valid.map((_, i) => outcome.firstPosition + i);
      committed = positions.at(-1)!;
      const events = valid.map((event, i) => ({
        id: event.id ?? assignedEventId(idPrefix, positions[i]!),
        version: firstVersion + i,
        position: positions[i]!,
      }));
      return { streamId, version: outcome.version, events, created: true };
    }
    if (outcome.reason === "wrong_expected_version") {
      throw new WrongExpectedVersionError(streamId, expectedVersion, outcome.actual);
    }
    if (outcome.reason === "stream_version_limit") {
      throw new EventBusError(
        "PAYLOAD_TOO_LARGE",
        `Stream '${streamId}' is at version ${outcome.actual}: ${valid.length} more event${valid.length === 1 ? "" : "s"} would take it past version ${MAX_STREAM_VERSION}, the largest streamversion a CloudEvent can carry (a 32-bit Integer). Append to another stream.`,
        { streamId, version: outcome.actual, events: valid.length, maxStreamVersion: MAX_STREAM_VERSION },
      );
    }
    throw new EventBusError(
      "DUPLICATE_EVENT_ID",
      "Some of these event ids are already used in this stream, but not as this exact batch.",
      { ids: outcome.ids },
    );
  } finally {
    // Not awaited: the wake-up is a hint, and an append never waits for, or fails over, one.
    tracked?.done(committed);
  }
}

/**
 * An empty batch (CloudEvents batch mode allows one): appends nothing, but checks `expectedVersion` as an
 * append would, so a producer can assert where a stream stands. Returns the stream's version (0: none).
 *
 * @throws {WrongExpectedVersionError} when the stream is not at `expectedVersion`.
 */
export async function appendNothing(
  sql: Sql | TransactionSql,
  streamId: string,
  options: { expectedVersion?: ExpectedVersion } = {},
): Promise<AppendResult> {
  assertStreamId(streamId);
  const expectedVersion = options.expectedVersion ?? "any";
  assertExpectedVersion(expectedVersion);
  const version = await streamVersion(sql, streamId);
  const holds =
    expectedVersion === "any" ||
    (expectedVersion === "stream_exists"
      ? version > 0
      : version === (expectedVersion === "no_stream" ? 0 : expectedVersion));
  if (!holds) throw new WrongExpectedVersionError(streamId, expectedVersion, version);
  return { streamId, version, events: [], created: false };
}

/** The stream's version: its newest event's, 0 when it has none (the last entry of its version index). */
export async function streamVersion(sql: Sql | TransactionSql, streamId: string): Promise<number> {
  const [row] = await sql<[{ version: number }]>`
    select coalesce(max(version), 0) as version from eventbus.events where stream_id = ${streamId}`;
  return row!.version;
}

function assertExpectedVersion(expected: ExpectedVersion) {
  if (typeof expected === "number" && !(Number.isSafeInteger(expected) && expected >= 0)) {
    throw validationFailed(
      "expectedVersion must be any, no_stream, stream_exists or a version number >= 0.",
      {
        parameter: "expectedVersion",
      },
    );
  }
}

/** The batch as the JSON array both append statements read: `[{id?, type, data, metadata}, ...]`. */
const batchJson = (valid: readonly ValidEvent[]) => `[${valid.map((e) => e.json).join(",")}]`;

/**
 * The PL/pgSQL append, for caller-chosen ids (which may be a retry, or clash with events already in the
 * stream) and for appends inside a caller's transaction: it meets another writer of the stream without
 * raising (see migration 0010), so an expected conflict never aborts the caller's transaction. It looks
 * up chosen ids in the identity index and assigned ones through their position (migration 0019).
 */
async function appendChecked(
  sql: Sql | TransactionSql,
  streamId: string,
  expectedVersion: ExpectedVersion,
  valid: readonly ValidEvent[],
  idPrefix: string,
  options: { checkIds: boolean; inTransaction: boolean; carry: number | "own" | undefined },
): Promise<AppendOutcome> {
  // Inside a caller's transaction the NOTIFY rides along with its commit; on its own, when a wake-up is due.
  const notify = options.inTransaction || options.carry !== undefined;
  const [row] = await sql<[{ outcome: AppendOutcome }]>`
    select eventbus.append_to_stream(${streamId}, ${String(expectedVersion)},
      ${batchJson(valid)}::text::jsonb, ${options.checkIds}, ${notify}, ${idPrefix}) as outcome`;
  return row!.outcome;
}

/**
 * The versions a stream may be at for `count` more events to be appended under `expected`, as the plain
 * statements check them (`lowest` greater than `highest`: none): the expected version, and room below
 * {@link MAX_STREAM_VERSION}.
 */
function allowedVersions(expected: ExpectedVersion, count: number): { lowest: number; highest: number } {
  const highest = MAX_STREAM_VERSION - count;
  if (expected === "any") return { lowest: 0, highest };
  if (expected === "stream_exists") return { lowest: 1, highest };
  const exact = expected === "no_stream" ? 0 : expected;
  return { lowest: exact, highest: Math.min(exact, highest) };
}

/** The event's `source` column: its producer's `source` attribute, empty for the bus's own. */
const sourceOf = (event: ValidEvent): string =>
  event.attributes?.source === undefined ? "" : String(event.attributes.source);

/** Unique violations that mean another writer appended to the stream since it was read. */
const STREAM_RACE_CONSTRAINT = "events_stream_version_key";
/** The unique violation of a chosen event identity (stream, id, source) the stream already holds. */
const EVENT_IDENTITY_CONSTRAINT = "events_chosen_identity_key";

/**
 * Events whose ids are assigned here cannot be in the stream yet, so an append that commits on its own is
 * one plain `INSERT ... SELECT`: read the stream's version (the last entry of its `(stream_id, version)`
 * index), insert the events after it, positions drawn in batch order (the ordinality column is the scan's
 * order, so the `order by` costs no sort), each assigned id completed with its event's position. Nothing
 * but the event rows is written (migration 0012).
 *
 * Gap safety (migration 0003): the transaction id is taken before any position is drawn. A batch's `stream`
 * subquery takes it: it yields one row, which Postgres forms (and filters on the id) before any row that
 * draws a position. A single event's HAVING takes it: a condition without columns, which Postgres checks
 * once, before it forms the row.
 *
 * Two appends that read the same version meet in the unique index: the second waits for the first to end,
 * then fails with a unique violation and is simply run again (it commits on its own: nothing else was in
 * it), now reading the first's versions, so expected-version outcomes are those of a serial order.
 *
 * Ids a caller chose (CloudEvents always carry one) are new in the stream too, nearly always: the same
 * statement appends them, and only when it cannot (an id the stream already holds, or a refused expected
 * version, which an idempotent retry overrides) does the PL/pgSQL function work out what the append is.
 * (A chosen id of the assigned form never comes here: see appendToStream.)
 */
async function appendFresh(
  sql: Sql,
  streamId: string,
  expectedVersion: ExpectedVersion,
  valid: readonly ValidEvent[],
  idPrefix: string,
  callerIds: boolean,
  carry: number | "own" | undefined,
): Promise<AppendOutcome> {
  const checked = () =>
    appendChecked(sql, streamId, expectedVersion, valid, idPrefix, {
      checkIds: true,
      inTransaction: false,
      carry,
    });
  // Each retry follows another writer's committed append to this stream; a hundred in a row is no race.
  for (let attempt = 1; attempt <= 100; attempt++) {
    let outcome: AppendOutcome | undefined;
    try {
      outcome = await appendFreshOnce(sql, streamId, expectedVersion, valid, idPrefix, carry);
    } catch (error) {
      const { code, constraint_name } = error as { code?: string; constraint_name?: string };
      if (code !== "23505") throw error;
      if (callerIds && constraint_name === EVENT_IDENTITY_CONSTRAINT) return await checked();
      if (constraint_name !== STREAM_RACE_CONSTRAINT) throw error;
      continue;
    }
    if (outcome === undefined) continue;
    // A refusal of caller-chosen ids may be an idempotent retry, which the function recognizes.
    return outcome.ok || !callerIds ? outcome : await checked();
  }
  throw new EventBusError("UNAVAILABLE", `Appends to stream '${streamId}' kept racing; try again.`, {
    streamId,
  });
}

async function appendFreshOnce(
  sql: Sql,
  streamId: string,
  expectedVersion: ExpectedVersion,
  valid: readonly ValidEvent[],
  idPrefix: string,
  carry: number | "own" | undefined,
): Promise<AppendOutcome | undefined> {
  const count = valid.length;
  const { lowest, highest } = allowedVersions(expectedVersion, count);
  // A due wake-up goes out with this append's commit (see trackAppend): for a batch, one for earlier commits
  // from the version subquery (an unused volatile output of a subquery is still evaluated); for a single
  // event, from RETURNING (one row, so one NOTIFY), naming the earlier commits' position or its own.
  const wakeFor = typeof carry === "number" ? String(carry) : null;
  // Two whole statements, every variation a parameter: each fragment nested in a postgres.js query is one
  // more query object to build and render on every call, which cost appends more client CPU than Postgres
  // spends on the conditions.
  const single = count === 1 ? valid[0] : undefined;
  // A single event, the most common append, is one aggregate row over the stream's version index: Postgres
  // turns max(version) into one backward index probe, and HAVING checks the transaction id and the
  // expectation before the row, and its position, are formed. Its values go separately, so that Postgres
  // parses only its data and attributes as JSON, not an envelope to take apart again.
  // An event without an id gets the one its position completes (migration 0019): the positions are drawn in
  // an inner query, which the outer one turns into ids.
  const rows = single
    ? await sql<{ position: number; version: number }[]>`
    insert into eventbus.events
      (position, stream_id, version, id, type, data, metadata, category, source, id_assigned)
    select n.position, ${streamId}, n.version,
      coalesce(${single.id ?? null}::text, eventbus.assigned_event_id(${idPrefix}, n.position)),
      ${single.type}, ${single.dataJson ?? null}::text::jsonb, ${single.attributesJson}::text::jsonb,
      split_part(${streamId}::text, '-', 1), ${sourceOf(single)}, ${single.id === undefined}
    from (
      select nextval('eventbus.event_position') as position, coalesce(max(version), 0) + 1 as version
      from eventbus.events where stream_id = ${streamId}
      having pg_current_xact_id() is not null and coalesce(max(version), 0) between ${lowest} and ${highest}
    ) n
    returning position, version, (case when ${carry !== undefined}::bool
      then pg_notify(${EVENTS_CHANNEL}, coalesce(${wakeFor}::text, position::text)) end) is null`
    : await sql<{ position: number; version: number }[]>`
    insert into eventbus.events
      (position, stream_id, version, id, type, data, metadata, category, source, id_assigned)
    select n.position, ${streamId}, n.version, coalesce(n.id, eventbus.assigned_event_id(${idPrefix}, n.position)),
      n.type, n.data, n.metadata, split_part(${streamId}::text, '-', 1), coalesce(n.metadata->>'source', ''),
      n.id is null
    from (
      select nextval('eventbus.event_position') as position, stream.current + p.ord as version, p.id, p.type,
        case when p.no_data then null else coalesce(p.data, 'null'::jsonb) end as data, p.metadata
      from (
        select pg_current_xact_id() as xid, coalesce(max(version), 0) as current,
          case when ${wakeFor}::text is not null then pg_notify(${EVENTS_CHANNEL}, ${wakeFor}::text) end
        from eventbus.events where stream_id = ${streamId}
      ) stream,
      -- One pass turns each event's JSON into a row (JSON null becomes SQL NULL: "noData" tells them apart).
      rows from (jsonb_to_recordset(${batchJson(valid)}::text::jsonb)
        as (id text, type text, metadata jsonb, data jsonb, "noData" bool))
        with ordinality as p(id, type, metadata, data, no_data, ord)
      -- Referencing the transaction id keeps it: an unused output of a subquery that is not volatile (taking
      -- the id is only stable) would be planned away.
      where stream.xid is not null and stream.current between ${lowest} and ${highest}
      order by p.ord
    ) n
    returning position, version`;
  if (rows.length === 0) {
    // Refused on the version the statement read. A refusal is rare, so the statement returns nothing for
    // it: read the version again to name it. Another writer may have moved the stream since; if the
    // expectation holds now, the append simply runs again, as after a unique violation.
    const current = await streamVersion(sql, streamId);
    const versionHolds =
      expectedVersion === "any" ||
      (expectedVersion === "stream_exists"
        ? current > 0
        : current === (expectedVersion === "no_stream" ? 0 : expectedVersion));
    if (versionHolds && current + count <= MAX_STREAM_VERSION) return undefined;
    return {
      ok: false,
      reason: versionHolds ? "stream_version_limit" : "wrong_expected_version",
      actual: current,
    };
  }
  const first = rows[0]!.position;
  const last = rows.at(-1)!;
  // Positions are drawn in order but may be interleaved with another writer's (the sequence is shared).
  return last.position - first + 1 === count
    ? { ok: true, version: last.version, firstPosition: first, created: true }
    : { ok: true, version: last.version, positions: rows.map((row) => row.position), created: true };
}
