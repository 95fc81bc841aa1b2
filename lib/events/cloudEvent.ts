import type { EventBusCloudEvent, RecordedEvent } from "./types.ts";

/** The CloudEvents `source` used when none is configured. */
export const DEFAULT_SOURCE = "urn:eventbus";

/**
 * Maps a stored event to the CloudEvents 1.0 JSON form. The stream id is the `subject` and also the
 * `streamid` extension, next to `streamversion` and `position`; caller metadata rides as `metadata`.
 */
export function toCloudEvent(event: RecordedEvent, source: string = DEFAULT_SOURCE): EventBusCloudEvent {
  const cloudEvent: EventBusCloudEvent = {
    specversion: "1.0",
    id: event.id,
    source,
    type: event.type,
    time: event.createdAt.toISOString(),
    subject: event.streamId,
    datacontenttype: "application/json",
    data: event.data,
    streamid: event.streamId,
    streamversion: event.version,
    position: event.position,
  };
  if (event.metadata) cloudEvent.metadata = event.metadata;
  return cloudEvent;
}
