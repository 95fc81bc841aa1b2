import type { AttributeValue } from "./cloudEventAttributes.ts";

/** An event as the caller proposes it. Without an `id` the bus assigns one as it appends (lib/events/assignedEventIds.ts). */
export interface ProposedEvent {
  id?: string;
  type: string;
  /**
   * The payload. Absent (`undefined`) and `null` are two different events, as in CloudEvents: an event
   * without data leaves the bus without `data` (and without a default `datacontenttype`), one with
   * `data: null` leaves it with `data: null`.
   */
  data?: unknown;
  /**
   * Extension attributes, as plain-JSON appends send them: every key must be a valid CloudEvents extension
   * name (`[a-z0-9]{1,20}`, not a context attribute of the spec or of the bus) and every value a string, a
   * boolean or a 32-bit integer. Each leaves the bus as an extension attribute of the same name.
   */
  metadata?: Record<string, unknown>;
  /**
   * CloudEvents attributes a producer set besides `id`, `type` and `data`: `source`, `time`, `subject`,
   * `dataschema`, `datacontenttype` and extensions. Kept and emitted unchanged. `source` and `id` are the
   * event's identity.
   */
  attributes?: Record<string, unknown>;
}

/** An event as stored. */
export interface RecordedEvent {
  id: string;
  streamId: string;
  version: number;
  position: number;
  type: string;
  /** The payload; absent (the key is left out) when the event was appended without data. */
  data?: unknown;
  /** The attributes its producer set (see `ProposedEvent.attributes`), or `null` for none. */
  attributes: Record<string, AttributeValue> | null;
  createdAt: Date;
}

/** `any`, `no_stream`, `stream_exists`, or the exact current version (0 means "no stream yet"). */
export type ExpectedVersion = "any" | "no_stream" | "stream_exists" | number;

/**
 * The CloudEvents 1.0 JSON form in which events leave the bus: the producer's attributes unchanged, the
 * bus's defaults for those it did not set, and the bus's extensions `streamid`, `streamversion` and
 * `position` (a decimal string: CloudEvents integers are 32-bit, positions are not).
 */
export interface EventBusCloudEvent {
  specversion: "1.0";
  id: string;
  /** The producer's, else the bus's configured source. */
  source: string;
  type: string;
  /** The producer's, else the stream id. */
  subject: string;
  /** The producer's, else when the event was appended. */
  time: string;
  /** The producer's, else `application/json` when the event has data; absent for an event without either. */
  datacontenttype?: string;
  dataschema?: string;
  /** Absent when the event was appended without data; `null` when it was appended with `data: null`. */
  data?: unknown;
  streamid: string;
  /** A CloudEvents Integer (32-bit): appends that would take a stream past 2,147,483,647 are refused. */
  streamversion: number;
  position: string;
  /** Extension attributes: strings, booleans and 32-bit integers. */
  [extension: string]: unknown;
}
