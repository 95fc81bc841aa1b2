import type { ForwardEvent } from "../subscriptions/readForwardPage.ts";

/**
 * The CloudEvent JSON of `toCloudEvent` (lib/events/cloudEvent.ts), built as text around the payload text
 * Postgres returned: forwarding then costs no JSON parse or stringify of `data`, which is most of the
 * bytes. `test/listener/cloudEventJson.test.ts` keeps the two forms equal.
 */
export function cloudEventJson(event: ForwardEvent, source: string): string {
  const subject = JSON.stringify(event.streamId);
  const metadata = event.metadataJson === null ? "" : `,"metadata":${event.metadataJson}`;
  return escapeForSqs(
    `{"specversion":"1.0","id":${JSON.stringify(event.id)},"source":${JSON.stringify(source)},` +
      `"type":${JSON.stringify(event.type)},"time":"${event.createdAt.toISOString()}","subject":${subject},` +
      `"datacontenttype":"application/json","data":${event.dataJson ?? "null"},"streamid":${subject},` +
      `"streamversion":${event.version},"position":${event.position}${metadata}}`,
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
