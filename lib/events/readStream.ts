import type { Sql } from "postgres";
import { EventBusError } from "../errors.ts";
import { limits } from "../limits.ts";
import { streamVersion } from "./appendToStream.ts";
import { type EventRow, eventColumns, toRecordedEvent } from "./eventRow.ts";
import { assertStreamId } from "./streamId.ts";
import type { RecordedEvent } from "./types.ts";

export interface ReadStreamOptions {
  /** First version to return. Forward defaults to 1, backward to the stream's last version. */
  from?: number;
  limit?: number;
  direction?: "forward" | "backward";
}

export interface ReadStreamResult {
  streamId: string;
  /** The stream's current version. */
  version: number;
  events: RecordedEvent[];
  /** The `from` of the next page, or `null` when this page reached the end. */
  next: number | null;
}

/**
 * Reads one page of a stream in version order.
 *
 * @throws {EventBusError} `STREAM_NOT_FOUND` when the stream has no events.
 */
export async function readStream(
  sql: Sql,
  streamId: string,
  options: ReadStreamOptions = {},
): Promise<ReadStreamResult> {
  assertStreamId(streamId);
  const limit = options.limit ?? limits.defaultReadLimit;
  const backward = options.direction === "backward";
  const version = await streamVersion(sql, streamId);
  if (version === 0)
    throw new EventBusError("STREAM_NOT_FOUND", `Stream '${streamId}' does not exist.`, { streamId });

  const from = options.from ?? (backward ? version : 1);
  const rows = backward
    ? await sql<EventRow[]>`
        select ${eventColumns(sql)} from eventbus.events
        where stream_id = ${streamId} and version <= ${from}
        order by version desc limit ${limit + 1}`
    : await sql<EventRow[]>`
        select ${eventColumns(sql)} from eventbus.events
        where stream_id = ${streamId} and version >= ${from}
        order by version limit ${limit + 1}`;
  const more = rows.length > limit;
  const events = rows.slice(0, limit).map(toRecordedEvent);
  const last = events.at(-1);
  const next = more && last ? (backward ? last.version - 1 : last.version + 1) : null;
  return { streamId, version, events, next };
}
