import type { ForwardEvent } from "../subscriptions/readForwardPage.ts";

/**
 * The CloudEvent JSON of `toCloudEvent` (lib/events/cloudEvent.ts), built as text around the payload text
 * Postgres returned: forwarding then costs no JSON parse or stringify of `data`, which is most of the
 * bytes. `test/listener/cloudEventJson.test.ts` keeps the two forms equal.
 */
export function cloudEventJson(event: ForwardEvent, source: string): string {
  const subject = JSON.stringify(event.streamId);
  const metadata = event.metadataJson === null ? "" : `,"metadata":${event.metadataJson}`;
  return (
    `{"specversion":"1.0","id":${JSON.stringify(event.id)},"source":${JSON.stringify(source)},` +
    `"type":${JSON.stringify(event.type)},"time":"${event.createdAt.toISOString()}","subject":${subject},` +
    `"datacontenttype":"application/json","data":${event.dataJson ?? "null"},"streamid":${subject},` +
    `"streamversion":${event.version},"position":${event.position}${metadata}}`
  );
}
