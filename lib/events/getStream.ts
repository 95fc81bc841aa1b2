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
  // The stream's version and last update are its newest event's.
  const [row] = await sql<[{ version: number; created_at: Date; updated_at: Date }?]>`
    select e.version, s.created_at, e.created_at as updated_at
    from eventbus.streams s
    cross join lateral (
      select version, created_at from eventbus.events where stream_id = s.stream_id
      order by version desc limit 1) e
    where s.stream_id = ${streamId}`;
  if (!row) throw new EventBusError("STREAM_NOT_FOUND", `Stream '${streamId}' does not exist.`, { streamId });
  return { streamId, version: row.version, createdAt: row.created_at, updatedAt: row.updated_at };
}
