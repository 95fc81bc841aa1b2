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
  const [row] = await sql<[{ version: number; created_at: Date; updated_at: Date }?]>`
    select version, created_at, updated_at from eventbus.streams where stream_id = ${streamId}`;
  if (!row) throw new EventBusError("STREAM_NOT_FOUND", `Stream '${streamId}' does not exist.`, { streamId });
  return { streamId, version: row.version, createdAt: row.created_at, updatedAt: row.updated_at };
}
