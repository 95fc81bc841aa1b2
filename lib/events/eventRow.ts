import type { AttributeValue } from "./cloudEventAttributes.ts";
import type { RecordedEvent } from "./types.ts";

/** The columns of `eventbus.events` as postgres.js returns them. */
export interface EventRow {
  position: number;
  stream_id: string;
  version: number;
  id: string;
  type: string;
  data: unknown;
  /** The event's CloudEvents attributes (see migration 0004). */
  metadata: Record<string, AttributeValue> | null;
  created_at: Date;
}

export const toRecordedEvent = (row: EventRow): RecordedEvent => ({
  id: row.id,
  streamId: row.stream_id,
  version: row.version,
  position: row.position,
  type: row.type,
  data: row.data,
  attributes: row.metadata,
  createdAt: row.created_at,
});
