import type { Pgoutput } from "pg-logical-replication";
import type { ProposedEvent } from "../events/types.ts";
import { validateEvents } from "../events/validateEvents.ts";
import { rowStreamId } from "./captureNames.ts";
import { type ColumnType, decodeColumnValue } from "./columnValue.ts";

/** A captured table as stored in `eventbus.captures`. */
export interface CapturedTable {
  name: string;
  schema: string;
  table: string;
  keyColumns: string[];
}

/** What a source transaction contributes to an event's metadata. */
export interface SourceCommit {
  lsn: string;
  xid: string;
}

/** An event bound for one stream. */
export interface StreamEvent {
  streamId: string;
  event: ProposedEvent;
}

type RawTuple = Record<string, string | null | undefined>;
type Row = Record<string, unknown>;

/**
 * Decodes a pgoutput tuple (text values, `undefined` for an unchanged TOASTed value that the message does
 * not carry). Returns the row and the columns whose value is unknown.
 */
function decodeRow(
  relation: Pgoutput.MessageRelation,
  tuple: RawTuple,
  typeOf: (oid: number) => ColumnType,
): { row: Row; unknown: string[] } {
  const row: Row = {};
  const unknown: string[] = [];
  for (const column of relation.columns) {
    const raw = tuple[column.name];
    if (raw === undefined) unknown.push(column.name);
    else row[column.name] = raw === null ? null : decodeColumnValue(raw, typeOf(column.typeOid), typeOf);
  }
  return { row, unknown };
}

const sameValue = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * One row change as an event: stream `<capture>-<key>`, type `<capture>.inserted|updated|deleted`, data
 * `{new, old, changes}`. `old` is known only as far as the table's replica identity logs it (all columns
 * with `REPLICA IDENTITY FULL`, else the key when it changed, else nothing); `changes` holds the columns
 * whose value differs from `old` when `old` is known, else every column of `new`. A TOASTed column that an
 * update did not touch and the WAL does not carry is left out of `new` and `changes` and listed in the
 * metadata's `unchanged`.
 */
export function rowChangeEvent(
  capture: CapturedTable,
  message: Pgoutput.MessageInsert | Pgoutput.MessageUpdate | Pgoutput.MessageDelete,
  commit: SourceCommit,
  typeOf: (oid: number) => ColumnType,
): StreamEvent {
  const decode = (tuple: RawTuple | null) =>
    tuple ? decodeRow(message.relation, tuple, typeOf) : { row: null, unknown: [] as string[] };
  const next = message.tag === "delete" ? decode(null) : decode(message.new as RawTuple);
  const previous = message.tag === "insert" ? decode(null) : decode((message.old ?? message.key) as RawTuple);
  const fullOld = message.tag !== "insert" && message.old !== null;

  let changes: Row = {};
  if (message.tag === "insert") changes = { ...next.row };
  else if (message.tag === "update") {
    for (const [column, value] of Object.entries(next.row ?? {})) {
      if (!fullOld || !sameValue(value, previous.row?.[column])) changes[column] = value;
    }
  }
  const keySource = (message.tag === "delete" ? previous.row : next.row) ?? {};
  const keyValues = capture.keyColumns.map((column) => keySource[column] ?? null);
  const type = { insert: "inserted", update: "updated", delete: "deleted" }[message.tag];
  const metadata: Record<string, unknown> = {
    capture: capture.name,
    table: `${capture.schema}.${capture.table}`,
    lsn: commit.lsn,
    xid: commit.xid,
  };
  if (next.unknown.length > 0) metadata.unchanged = next.unknown.join(",");
  return {
    streamId: rowStreamId(capture.name, keyValues),
    event: {
      type: `${capture.name}.${type}`,
      data: { new: next.row, old: previous.row, changes },
      metadata,
    },
  };
}

/** A `TRUNCATE` of a captured table: one `<capture>.truncated` event in the stream named after the capture. */
export function truncateEvent(capture: CapturedTable, commit: SourceCommit): StreamEvent {
  return {
    streamId: capture.name,
    event: {
      type: `${capture.name}.truncated`,
      data: { new: null, old: null, changes: {} },
      metadata: {
        capture: capture.name,
        table: `${capture.schema}.${capture.table}`,
        lsn: commit.lsn,
        xid: commit.xid,
      },
    },
  };
}

/**
 * The event as the store takes it (its validated JSON), else a stand-in that keeps the row's place in its stream and
 * says why its values are missing (for instance a row larger than an event may be). A capture never stops
 * on one row: the refusal is visible in the event and in the capture's `lastError`.
 */
export function storableEvent(change: StreamEvent): { json: string; refused?: string } {
  try {
    return { json: validateEvents(change.streamId, [change.event])[0]!.json };
  } catch (error) {
    const refused = (error as Error).message;
    const standIn: ProposedEvent = {
      type: change.event.type,
      data: { new: null, old: null, changes: {}, refused },
      metadata: change.event.metadata ?? {},
    };
    return { refused, json: validateEvents(change.streamId, [standIn])[0]!.json };
  }
}
