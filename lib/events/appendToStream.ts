import type { PendingQuery, Row, Sql, TransactionSql } from "postgres";
import { EventBusError, validationFailed, WrongExpectedVersionError } from "../errors.ts";
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
 * it (they take turns on the stream's row).
 *
 * An event's identity is its `source` and `id` (CloudEvents), within its stream; events without a
 * `source` attribute share the bus's. Re-sending events that are all already in the stream is a success
 * that appends nothing (`created: false`); the same id from another source is another event. Events of
 * this stream re-sent in a different batch fail with `DUPLICATE_EVENT_ID`.
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
  const done = inTransaction ? undefined : trackAppend(sql as Sql);
  let committed: number | undefined;
  try {
    // Only ids a caller chose can already be in the stream (a retry); the ones generated here cannot.
    const callerIds = events.some((event) => event.id !== undefined);
    const outcome = callerIds
      ? await appendChecked(sql, streamId, expectedVersion, valid, inTransaction)
      : await appendFresh(sql, streamId, expectedVersion, valid, inTransaction);
    if (outcome.ok && !outcome.created) {
      return { streamId, version: outcome.version, events: outcome.events, created: false };
    }
    if (outcome.ok) {
      const firstVersion = outcome.version - valid.length + 1;
      const positions =
        "positions" in outcome ? outcome.positions : valid.map((_, i) => outcome.firstPosition + i);
      committed = positions.at(-1)!;
      const events = valid.map((event, i) => ({
        id: event.id,
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
    done?.(committed);
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
  const [stream] = await sql<[{ version: number }?]>`
    select version from eventbus.streams where stream_id = ${streamId}`;
  const version = stream?.version ?? 0;
  const holds =
    expectedVersion === "any" ||
    (expectedVersion === "stream_exists"
      ? version > 0
      : version === (expectedVersion === "no_stream" ? 0 : expectedVersion));
  if (!holds) throw new WrongExpectedVersionError(streamId, expectedVersion, version);
  return { streamId, version, events: [], created: false };
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

/** The batch as the JSON array both append statements read: `[{id, type, data, metadata}, ...]`. */
const batchJson = (valid: readonly ValidEvent[]) => `[${valid.map((e) => e.json).join(",")}]`;

/**
 * Caller-chosen ids may be a retry, or clash with events already in the stream: `append_to_stream` checks
 * them after it has taken the stream's row, in a statement of its own, so it sees what the writer it
 * waited for committed (one statement cannot: its snapshot predates the wait).
 */
async function appendChecked(
  sql: Sql | TransactionSql,
  streamId: string,
  expectedVersion: ExpectedVersion,
  valid: readonly ValidEvent[],
  inTransaction: boolean,
): Promise<AppendOutcome> {
  const [row] = await sql<[{ outcome: AppendOutcome }]>`
    select eventbus.append_to_stream(${streamId}, ${String(expectedVersion)},
      ${batchJson(valid)}::text::jsonb, true, ${inTransaction}) as outcome`;
  return row!.outcome;
}

/**
 * The stream write that reserves the batch's versions and returns the version before it, or no row when
 * the stream is not at the expected version or the batch would take it past {@link MAX_STREAM_VERSION}
 * (a new stream cannot: a batch is far smaller). Writing the stream's row also takes this transaction's id,
 * which gap safety needs before any position is drawn (see migration 0003): the events below are drawn
 * from rows joined to this one, so after it.
 */
function streamWrite(
  sql: Sql | TransactionSql,
  streamId: string,
  count: number,
  expected: ExpectedVersion,
): PendingQuery<Row[]> {
  if (expected === "any") {
    return sql`
      insert into eventbus.streams as s (stream_id, version) values (${streamId}, ${count})
      on conflict (stream_id) do update set version = s.version + excluded.version
        where s.version + excluded.version <= ${MAX_STREAM_VERSION}
      returning s.version - ${count} as current`;
  }
  if (expected === "no_stream" || expected === 0) {
    return sql`
      insert into eventbus.streams (stream_id, version) values (${streamId}, ${count})
      on conflict (stream_id) do nothing
      returning 0::int8 as current`;
  }
  return sql`
    update eventbus.streams set version = version + ${count}
    where stream_id = ${streamId} ${expected === "stream_exists" ? sql`` : sql`and version = ${expected}`}
      and version + ${count} <= ${MAX_STREAM_VERSION}
    returning version - ${count} as current`;
}

/**
 * The batch as rows `(ev, ord)`. A single event, the most common append, skips the set-returning function
 * (whose result Postgres materialises) and the array around it.
 */
const eventRows = (sql: Sql | TransactionSql, valid: readonly ValidEvent[]): PendingQuery<Row[]> =>
  valid.length === 1
    ? sql`(select ${valid[0]!.json}::text::jsonb, 1::int8)`
    : sql`jsonb_array_elements(${batchJson(valid)}::text::jsonb) with ordinality`;

/**
 * Events whose ids were all generated here cannot be in the stream yet, so the append is one plain
 * statement: the stream write, then the events, positions drawn in batch order (volatile expressions are
 * evaluated after the sort). Cheaper than the PL/pgSQL function, which only caller-chosen ids need.
 */
async function appendFresh(
  sql: Sql | TransactionSql,
  streamId: string,
  expectedVersion: ExpectedVersion,
  valid: readonly ValidEvent[],
  inTransaction: boolean,
): Promise<AppendOutcome> {
  const count = valid.length;
  const [row] = await sql<
    [{ current: number | null; first: number | null; last: number | null; positions: number[] | null }]
  >`
    with stream as (${streamWrite(sql, streamId, count, expectedVersion)}),
    inserted as (
      insert into eventbus.events (position, stream_id, version, id, type, data, metadata)
      select nextval('eventbus.event_position'), ${streamId}, stream.current + p.ord,
        p.ev->>'id', p.ev->>'type', p.ev->'data', nullif(p.ev->'metadata', 'null'::jsonb)
      from stream, ${eventRows(sql, valid)} as p(ev, ord)
      order by p.ord
      returning position
    )
    select (select current from stream) as current, min(position) as first, max(position) as last,
      case when max(position) - min(position) + 1 <> count(*) then array_agg(position order by position)
      end as positions
      ${inTransaction ? sql`, case when count(*) > 0 then pg_notify(${EVENTS_CHANNEL}, max(position)::text) end` : sql``}
    from inserted`;
  const { current, first, positions } = row!;
  if (current === null || first === null) {
    const [stream] = await sql<[{ version: number }?]>`
      select version from eventbus.streams where stream_id = ${streamId}`;
    const actual = stream?.version ?? 0;
    // Versions only grow: a stream read here too full for the batch was too full for the write, and if
    // it is also at the expected version, the limit is what refused it.
    const full = actual + count > MAX_STREAM_VERSION;
    const versionHolds =
      expectedVersion === "any" || expectedVersion === "stream_exists" || expectedVersion === actual;
    return {
      ok: false,
      reason: full && versionHolds ? "stream_version_limit" : "wrong_expected_version",
      actual,
    };
  }
  const version = current + count;
  return positions
    ? { ok: true, version, positions, created: true }
    : { ok: true, version, firstPosition: first, created: true };
}
