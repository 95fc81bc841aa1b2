import type { PendingQuery, Row, Sql } from "postgres";
import type { AttributeValue } from "./cloudEventAttributes.ts";
import type { RecordedEvent } from "./types.ts";

/** The columns of `eventbus.events` as postgres.js returns them, selected with {@link eventColumns}. */
export interface EventRow {
  position: number;
  stream_id: string;
  version: number;
  id: string;
  type: string;
  /** `null` both for SQL NULL (no data) and for the JSON `null`: `data_absent` tells them apart. */
  data: unknown;
  /** The event's CloudEvents attributes (see migration 0004). */
  metadata: Record<string, AttributeValue> | null;
  created_at: Date;
  /** Whether `data` is SQL NULL: the event was appended without data (see `validateEvents`). */
  data_absent: boolean;
}

/**
 * The select list that {@link toRecordedEvent} maps: every column, and whether `data` is SQL NULL, which
 * postgres.js would otherwise return as `null`, exactly like the JSON `null` an event may carry.
 */
export const eventColumns = (sql: Sql): PendingQuery<Row[]> => sql`*, data is null as data_absent`;

export const toRecordedEvent = (row: EventRow): RecordedEvent => ({
  id: row.id,
  streamId: row.stream_id,
  version: row.version,
  position: row.position,
  type: row.type,
  ...(row.data_absent ? {} : { data: row.data }),
  attributes: row.metadata,
  createdAt: row.created_at,
});
