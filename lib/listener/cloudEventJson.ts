import type { AttributeValue } from "../events/cloudEventAttributes.ts";
import type { ForwardEvent } from "../subscriptions/readForwardPage.ts";

/** Stored attributes that `cloudEventJson` writes in their own place rather than among the extensions. */
const PLACED = new Set(["source", "subject", "time", "datacontenttype", "dataschema"]);

/** The attributes its producer set, stored as JSON text in `metadata` (see migration 0004). */
export const storedAttributes = (event: ForwardEvent): Record<string, AttributeValue> =>
  event.metadataJson === null ? {} : (JSON.parse(event.metadataJson) as Record<string, AttributeValue>);

/**
 * The CloudEvent JSON of `toCloudEvent` (lib/events/cloudEvent.ts), built as text around the payload text
 * Postgres returned: forwarding then costs no JSON parse or stringify of `data`, which is most of the
 * bytes (only the small attributes object is parsed). `dataJson` is `null` (SQL NULL) for an event appended
 * without data, which goes out without `data` and without a default `datacontenttype`, and `"null"` for one
 * appended with `data: null`. `test/listener/cloudEventJson.test.ts` keeps the two forms equal.
 */
export function cloudEventJson(event: ForwardEvent, source: string): string {
  const attributes = storedAttributes(event);
  const text = JSON.stringify;
  let extensions = "";
  for (const [name, value] of Object.entries(attributes)) {
    if (!PLACED.has(name)) extensions += `,${text(name)}:${text(value)}`;
  }
  const hasData = event.dataJson !== null;
  const contentType = attributes.datacontenttype ?? (hasData ? "application/json" : undefined);
  const datacontenttype = contentType === undefined ? "" : `,"datacontenttype":${text(contentType)}`;
  const dataschema =
    attributes.dataschema === undefined ? "" : `,"dataschema":${text(attributes.dataschema)}`;
  const data = hasData ? `,"data":${event.dataJson}` : "";
  return escapeForSqs(
    `{"specversion":"1.0","id":${text(event.id)},"source":${text(attributes.source ?? source)},` +
      `"type":${text(event.type)},"subject":${text(attributes.subject ?? event.streamId)},` +
      `"time":${text(attributes.time ?? event.createdAt.toISOString())}` +
      `${datacontenttype}${dataschema}${data}${extensions},"streamid":${text(event.streamId)},` +
      `"streamversion":${event.version},"position":"${event.position}"}`,
  );
}

/**
 * SQS refuses message bodies with characters outside #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD
 * #x10000-#x10FFFF (and some stand-ins refuse everything above #xFFFF). In JSON text such characters can
 * only stand inside strings, where a `\uXXXX` escape means the same character, so every consumer parses the
 * same value. Control characters are already escaped by JSON itself; what is left are U+FFFE, U+FFFF and
 * the surrogate code units (astral characters, and lone surrogates Postgres never stores).
 */
const SQS_UNSAFE = /[\uD800-\uDFFF\uFFFE\uFFFF]/g;

export function escapeForSqs(json: string): string {
  SQS_UNSAFE.lastIndex = 0;
  if (!SQS_UNSAFE.test(json)) return json;
  return json.replace(SQS_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
