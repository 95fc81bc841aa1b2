import type { EventBusCloudEvent, RecordedEvent } from "./types.ts";

/** The CloudEvents `source` used when none is configured. */
export const DEFAULT_SOURCE = "urn:eventbus";

/**
 * Maps a stored event to the CloudEvents 1.0 JSON form. Attributes the producer set are emitted unchanged;
 * `source` defaults to the configured source, `subject` to the stream id, `time` to when the event was
 * appended, `datacontenttype` to `application/json`. The bus adds `streamid`, `streamversion` and
 * `position` (a string). `lib/listener/cloudEventJson.ts` writes the same JSON as text, in the same order.
 */
export function toCloudEvent(event: RecordedEvent, source: string = DEFAULT_SOURCE): EventBusCloudEvent {
  const { source: own, subject, time, datacontenttype, dataschema, ...extensions } = event.attributes ?? {};
  return {
    specversion: "1.0",
    id: event.id,
    source: (own as string | undefined) ?? source,
    type: event.type,
    subject: (subject as string | undefined) ?? event.streamId,
    time: (time as string | undefined) ?? event.createdAt.toISOString(),
    datacontenttype: (datacontenttype as string | undefined) ?? "application/json",
    ...(dataschema === undefined ? {} : { dataschema: dataschema as string }),
    data: event.data,
    ...extensions,
    streamid: event.streamId,
    streamversion: event.version,
    position: String(event.position),
  };
}
