import { EventBusError, validationFailed } from "../errors.ts";
import { limits } from "../limits.ts";
import { assertStorableJson, jsonTextDepthExceeds, MAX_EVENT_JSON_DEPTH } from "../text/checkJson.ts";
import { printable, unstorableTextRule } from "../text/storableText.ts";
import {
  type AttributeValue,
  attributeNameRule,
  attributeValueRule,
  CORE_ATTRIBUTES,
  extensionValueRule,
  OPTIONAL_ATTRIBUTES,
} from "./cloudEventAttributes.ts";
import type { ProposedEvent } from "./types.ts";

/**
 * Ids of events without a producer `source` (plain JSON): their FIFO deduplication id is the readable
 * `<stream>/<id>` (lib/listener/eventMessages.ts), which SQS takes only in printable ASCII, no spaces.
 */
const PLAIN_EVENT_ID = /^[!-~]{1,128}$/;

/**
 * Longest id, in UTF-8 bytes, of an event with a producer `source` (a CloudEvent), where any non-empty
 * string is an id as CloudEvents allows: its FIFO deduplication id is a hash, and it travels only inside
 * JSON (message bodies, WebSocket frames), never as an SQS message attribute. The limit is Postgres's:
 * the id is part of the unique index on (stream id, id, source), whose entries must stay under about
 * 2,700 bytes or the insert fails after the request was accepted; with a stream id of at most 200 bytes
 * and a source of at most 1,024 (ASCII, a URI), 1,024 bytes for the id leave room. It also bounds what
 * the id adds to every message and frame.
 */
export const MAX_EVENT_ID_BYTES = 1024;

/** Why `id` is not a valid id for an event with (`sourced`) or without a producer source. */
function eventIdRule(id: unknown, sourced: boolean): string | undefined {
  if (typeof id !== "string") return "must be a string";
  if (!sourced) {
    return PLAIN_EVENT_ID.test(id)
      ? undefined
      : "must be 1-128 printable ASCII characters without spaces (any text up to 1024 bytes when the event is a CloudEvent with a source)";
  }
  if (id.length === 0) return "must not be empty";
  const unstorable = unstorableTextRule(id);
  if (unstorable) return unstorable;
  const bytes = Buffer.byteLength(id);
  return bytes > MAX_EVENT_ID_BYTES
    ? `must be at most ${MAX_EVENT_ID_BYTES} bytes in UTF-8 (it is ${bytes})`
    : undefined;
}

/** Characters of an event type, in Unicode code points. */
export const MAX_EVENT_TYPE_LENGTH = 200;

/**
 * `type` travels as an SQS message attribute, which SQS refuses unless every character is in
 * #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF. Control characters (including the
 * tab and line breaks SQS would take) are refused too: a type is a name, not text. With the u flag a
 * surrogate only matches when it is not half of a pair.
 */
const TYPE_CHARACTER_REFUSED = /[\p{Cc}\p{Cs}\uFFFE\uFFFF]/u;

/** Why `type` is not a valid event type, phrased to follow its name, or `undefined` when it is. */
export function eventTypeRule(type: string): string | undefined {
  if (type.length === 0) return "must not be empty";
  // Code points, not UTF-16 units; there are never more of them, so only long text is counted.
  if (type.length > MAX_EVENT_TYPE_LENGTH && [...type].length > MAX_EVENT_TYPE_LENGTH) {
    return `must be at most ${MAX_EVENT_TYPE_LENGTH} characters`;
  }
  const unstorable = unstorableTextRule(type);
  if (unstorable) return unstorable;
  const refused = TYPE_CHARACTER_REFUSED.exec(type);
  if (refused) {
    return `must not contain ${printable(refused[0])} (at index ${refused.index}): only characters SQS message attributes accept, without control characters`;
  }
  if (/^\s/u.test(type)) return "must not start with whitespace";
  return undefined;
}

/** Room for the CloudEvent envelope and SQS message attributes around `data` and the attributes. */
const ENVELOPE_BYTES = 1024;
/** What an assigned id adds to the JSON it is counted in: `"id":"<36 characters>",`. */
const ASSIGNED_ID_JSON_BYTES = 43;

const invalid = (pointer: string, message: string) =>
  validationFailed(`Invalid event: ${pointer} ${message}.`, { pointer, errors: [{ pointer, message }] });

export interface ValidEvent {
  /** The producer's id; `undefined` when the bus assigns one as it appends (lib/events/assignedEventIds.ts). */
  id: string | undefined;
  type: string;
  /**
   * `undefined` for an event without data: its JSON then has no `data` member, so the append stores SQL
   * NULL (`p.ev->'data'`), while `data: null` stores the JSON `null`. Readers tell the two apart.
   */
  data: unknown;
  /** The attributes to store (see migration 0004), or `null` for none. */
  attributes: Record<string, AttributeValue> | null;
  /** `data` as JSON text, `undefined` when the event has none. */
  dataJson: string | undefined;
  /** The attributes as JSON text, `null` for none. */
  attributesJson: string | null;
  /**
   * `{id, type, metadata: attributes, data}` as JSON text: how a batch goes to the database. An event
   * without data has no `data` member but `"noData": true`, which tells it from one whose data is `null`
   * where Postgres maps both to SQL NULL (`jsonb_to_recordset`).
   */
  json: string;
}

/** Attributes a producer may set besides id, type and data (the others have a place of their own). */
const SETTABLE_CORE = new Set<string>(OPTIONAL_ATTRIBUTES);

/** JSON media types: the bus stores JSON data only. */
const JSON_MEDIA_TYPE = /^application\/([\w.+-]+\+)?json\s*(;.*)?$/i;

/**
 * The attributes to store: a CloudEvent's (core ones and extensions) and plain-JSON `metadata` (extensions
 * only), every name and value checked against the CloudEvents rules.
 */
function attributesToStore(index: number, event: ProposedEvent): Record<string, AttributeValue> | null {
  const metadata = event.metadata ?? null;
  if (event.attributes === undefined && metadata === null) return null;
  const stored: Record<string, AttributeValue> = {};
  for (const [name, value] of Object.entries(event.attributes ?? {})) {
    if (value === null || value === undefined) continue;
    const pointer = `/${index}/${printable(name)}`;
    const nameRule =
      CORE_ATTRIBUTES.has(name) && !SETTABLE_CORE.has(name)
        ? "has a place of its own in the event, not among its attributes"
        : attributeNameRule(name);
    if (nameRule) throw invalid(pointer, nameRule);
    const valueRule = attributeValueRule(name, value);
    if (valueRule) throw invalid(pointer, valueRule);
    if (name === "datacontenttype" && !JSON_MEDIA_TYPE.test(value as string)) {
      throw invalid(
        pointer,
        "must be a JSON media type (application/json or */*+json): the bus stores JSON data only",
      );
    }
    stored[name] = value as AttributeValue;
  }
  if (metadata !== null && (typeof metadata !== "object" || Array.isArray(metadata))) {
    throw invalid(`/${index}/metadata`, "must be an object");
  }
  for (const [name, value] of Object.entries(metadata ?? {})) {
    const pointer = `/${index}/metadata/${printable(name)}`;
    const nameRule = CORE_ATTRIBUTES.has(name)
      ? "is a CloudEvents context attribute, not an extension: send a CloudEvent (application/cloudevents+json or binary mode) to set it"
      : attributeNameRule(name);
    if (nameRule)
      throw invalid(pointer, `${nameRule} (metadata keys become CloudEvents extension attributes)`);
    const valueRule = extensionValueRule(value);
    if (valueRule) throw invalid(pointer, valueRule);
    if (Object.hasOwn(stored, name)) throw invalid(pointer, "is also set as an attribute of this event");
    stored[name] = value as AttributeValue;
  }
  return Object.keys(stored).length === 0 ? null : stored;
}

/**
 * What JSON.stringify writes for the characters Postgres cannot store: NUL, and a surrogate that is not half
 * of a pair (written as an escape, lower case). A match may be a false alarm (an escaped backslash
 * followed by "u0000"); the exact walk decides.
 */
const MAYBE_UNSTORABLE = /\\u0000|\\ud[89a-f]/;

/**
 * The event's data as JSON text, after making sure Postgres can store it. The text is checked first, because
 * the exact walk over the value costs more than serialising it; only text that looks suspicious, or a value
 * JSON.stringify cannot handle (nested too deep for the call stack), goes through the walk, which names the
 * offending pointer and rule. Attribute values are scalars, checked one by one.
 */
function storableDataJson(index: number, data: unknown): string | undefined {
  if (data === undefined) return undefined;
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch {
    json = undefined;
  }
  if (json === undefined || MAYBE_UNSTORABLE.test(json) || jsonTextDepthExceeds(json, MAX_EVENT_JSON_DEPTH)) {
    const what = "Invalid event";
    assertStorableJson(data, { pointer: `/${index}/data`, maxDepth: MAX_EVENT_JSON_DEPTH, what });
    if (json === undefined) throw invalid(`/${index}/data`, "cannot be written as JSON");
  }
  return json;
}

/**
 * Checks a batch before it reaches the database: ids, types, CloudEvents attributes (names and values),
 * duplicates (same source and id) within the batch and the size each event will have once it leaves the bus
 * as a CloudEvent. Fills in missing ids.
 */
export function validateEvents(streamId: string, events: readonly ProposedEvent[]): ValidEvent[] {
  if (events.length === 0) throw validationFailed("At least one event is required.");
  if (events.length > limits.maxEventsPerAppend) {
    throw new EventBusError(
      "PAYLOAD_TOO_LARGE",
      `At most ${limits.maxEventsPerAppend} events can be appended at once.`,
      { maxEvents: limits.maxEventsPerAppend },
    );
  }
  const seen = new Set<string>();
  return events.map((event, index) => {
    const id = event.id;
    // A bad `source` is refused below, with its own pointer.
    const idRule =
      id === undefined ? undefined : eventIdRule(id, typeof event.attributes?.source === "string");
    if (idRule) throw invalid(`/${index}/id`, idRule);
    const typeRule = typeof event.type === "string" ? eventTypeRule(event.type) : "must be a string";
    if (typeRule) {
      throw invalid(`/${index}/type`, typeRule);
    }
    const attributes = attributesToStore(index, event);
    // An event is its source and id (CloudEvents); without a source, the bus's. Assigned ids are unique.
    if (id !== undefined) {
      const identity = `${attributes?.source ?? ""} ${id}`;
      if (seen.has(identity)) {
        throw invalid(
          `/${index}/id`,
          `'${printable(id)}' appears twice in this batch${attributes?.source ? " with the same source" : ""}`,
        );
      }
      seen.add(identity);
    }
    // Absent stays absent (not null): CloudEvents tells an event without data from one whose data is null.
    const data = event.data;
    const dataJson = storableDataJson(index, data);
    const attributesJson = attributes === null ? null : JSON.stringify(attributes);
    // Without "id" the append assigns one (jsonb_to_recordset reads the missing member as NULL).
    const json =
      `{${id === undefined ? "" : `"id":${JSON.stringify(id)},`}"type":${JSON.stringify(event.type)},"metadata":${attributesJson}` +
      `${dataJson === undefined ? ',"noData":true}' : `,"data":${dataJson}}`}`;
    const bytes =
      Buffer.byteLength(json) +
      2 * streamId.length +
      ENVELOPE_BYTES +
      (id === undefined ? ASSIGNED_ID_JSON_BYTES : 0);
    if (bytes > limits.maxEventBytes) {
      throw new EventBusError(
        "PAYLOAD_TOO_LARGE",
        `events[${index}] is ${bytes} bytes as a CloudEvent; the limit is ${limits.maxEventBytes}.`,
        { maxEventBytes: limits.maxEventBytes, eventBytes: bytes, index },
      );
    }
    return { id, type: event.type, data, attributes, dataJson, attributesJson, json };
  });
}
