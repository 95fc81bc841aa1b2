/**
 * The shapes the bus sends and accepts, as the client sees them. Declared here rather than imported from the
 * server's modules so the client carries no server code into a browser bundle.
 */

/**
 * A global position. The bus sends it as a decimal string (older servers: a JSON number); compare positions
 * with `comparePositions` or as `BigInt`, never as strings.
 */
export type Position = string | number;

/**
 * The CloudEvents 1.0 JSON form in which events leave the bus. `data` is absent for an event appended
 * without data (and `datacontenttype` too, unless its producer set one); an event appended with
 * `data: null` has `data: null`.
 */
export interface CloudEvent<TData = unknown> {
  specversion: "1.0";
  id: string;
  source: string;
  type: string;
  time: string;
  subject?: string;
  datacontenttype?: string;
  dataschema?: string;
  /** Absent when the event was appended without data. */
  data?: TData;
  streamid: string;
  /** The event's version in its stream: a CloudEvents Integer, at most 2,147,483,647. */
  streamversion: number;
  position: Position;
  [extension: string]: unknown;
}

/** An event to append; `id` makes re-sending it idempotent. */
export interface NewEvent<TData = unknown> {
  type: string;
  /** Leave it out for an event without data; `null` is data (it is delivered as `data: null`). */
  data?: TData;
  id?: string;
  metadata?: unknown;
}

/** `any`, `no_stream`, `stream_exists`, or the exact current version (0: the stream must not exist). */
export type ExpectedVersion = "any" | "no_stream" | "stream_exists" | number;

export interface AppendResult {
  streamId: string;
  /** The stream's version after the append. */
  version: number;
  events: Array<{ id: string; version: number; position: Position }>;
}

export interface StreamPage<TData = unknown> {
  streamId: string;
  version: number;
  events: CloudEvent<TData>[];
  /** The `from` of the next page, or `null` at the end. */
  next: number | null;
}

export interface AllPage<TData = unknown> {
  events: CloudEvent<TData>[];
  /** The `after` of the next page, or `null` at the head. */
  next: Position | null;
}

export interface StreamInfo {
  streamId: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** An EventBridge-style event pattern over the CloudEvent JSON. */
export type EventPattern = Record<string, unknown>;

export interface SubscriptionDefinition {
  filter?: EventPattern;
  startFrom?: "origin" | "current" | number;
  ordering?: "none" | "stream";
  maxReceiveCount?: number;
  visibilityTimeout?: number;
  [member: string]: unknown;
}

/** A subscription's definition and its live state. */
export interface SubscriptionStatus extends SubscriptionDefinition {
  name: string;
  queueUrl: string;
  dlqUrl: string;
  checkpoint: Position;
  head: Position;
  lag: number;
  /** Age in seconds of the oldest event not forwarded yet; 0 when caught up. */
  lagSeconds?: number;
  /** How far the checkpoint is past the last position handed out (those events will never be forwarded). */
  ahead?: number;
  state?: "active" | "paused" | "behind" | "parked" | "failing";
  /** Since when the listener's sends to the queue have been failing (see `lastError`), or `null`. */
  failingSince?: string | null;
  /** Why the newest failed send failed, as SQS said it; kept after recovery. */
  lastError?: string | null;
  lastErrorAt?: string | null;
  queueDepth: number;
  dlqDepth: number;
  owner: string | null;
  [member: string]: unknown;
}

/** A change capture: the table, its replication slot and how far behind it is. */
export interface CaptureStatus {
  name: string;
  table: string;
  slot?: string;
  active?: boolean;
  lagBytes?: number | null;
  lagSeconds?: number | null;
  lastError?: string | null;
  [member: string]: unknown;
}
