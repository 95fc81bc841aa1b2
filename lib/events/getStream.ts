import type { Sql } from "postgres";
import { EventBusError } from "../errors.ts";
import { assertStreamId } from "./streamId.ts";

export interface StreamInfo {
  streamId: string;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/** @throws {EventBusError} `STREAM_NOT_FOUND` when the stream has no events. */
export async function getStream(sql: Sql, streamId: string): Promise<StreamInfo> {
  assertStreamId(streamId);
  // A stream is its events: its version and last update are its newest event's, its creation its first's.
  const [row] = await sql<[{ version: number; created_at: Date; updated_at: Date }?]>`
    select newest.version, first.created_at, newest.created_at as updated_at
    from (select version, created_at from eventbus.events where stream_id = ${streamId}
          order by version desc limit 1) newest
    cross join (select created_at from eventbus.events where stream_id = ${streamId}
          order by version limit 1) first`;
  if (!row) throw new EventBusError("STREAM_NOT_FOUND", `Stream '${streamId}' does not exist.`, { streamId });
  return { streamId, version: row.version, createdAt: row.created_at, updatedAt: row.updated_at };
}
