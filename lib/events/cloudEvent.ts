import type { EventBusCloudEvent, RecordedEvent } from "./types.ts";

/** The CloudEvents `source` used when none is configured. */
export const DEFAULT_SOURCE = "urn:eventbus";

/**
 * Maps a stored event to the CloudEvents 1.0 JSON form. Attributes the producer set are emitted unchanged;
 * `source` defaults to the configured source, `subject` to the stream id, `time` to when the event was
 * appended, and `datacontenttype` to `application/json` for an event with data. An event appended without
 * data has no `data` member (CloudEvents: data is optional), and none is invented for it; one appended with
 * `data: null` keeps it. The bus adds `streamid`, `streamversion` and `position` (a string).
 * `lib/listener/cloudEventJson.ts` writes the same JSON as text, in the same order.
 */
export function toCloudEvent(event: RecordedEvent, source: string = DEFAULT_SOURCE): EventBusCloudEvent {
  const { source: own, subject, time, datacontenttype, dataschema, ...extensions } = event.attributes ?? {};
  const hasData = event.data !== undefined;
  const contentType = (datacontenttype as string | undefined) ?? (hasData ? "application/json" : undefined);
  return {
    specversion: "1.0",
    id: event.id,
    source: (own as string | undefined) ?? source,
    type: event.type,
    subject: (subject as string | undefined) ?? event.streamId,
    time: (time as string | undefined) ?? event.createdAt.toISOString(),
    ...(contentType === undefined ? {} : { datacontenttype: contentType }),
    ...(dataschema === undefined ? {} : { dataschema: dataschema as string }),
    ...(hasData ? { data: event.data } : {}),
    ...extensions,
    streamid: event.streamId,
    streamversion: event.version,
    position: String(event.position),
  };
}

/** The CloudEvents JSON batch format's media type (HTTP binding, batched content mode). */
export const CLOUDEVENTS_BATCH = "application/cloudevents-batch+json";

/**
 * Whether an `Accept` header asks for a CloudEvents batch (a bare JSON array of events) rather than the
 * bus's `{events, next}` page: it names `application/cloudevents-batch+json` with a quality above 0 and no
 * lower than that of `application/json`. Wildcards count for neither.
 */
export function acceptsCloudEventsBatch(accept: string | undefined): boolean {
  if (!accept) return false;
  let batch = 0;
  let json = 0;
  for (const range of accept.split(",")) {
    const [type = "", ...parameters] = range.split(";").map((part) => part.trim().toLowerCase());
    const qParameter = parameters.find((parameter) => parameter.startsWith("q="));
    const q = qParameter === undefined ? 1 : Number(qParameter.slice(2));
    if (!Number.isFinite(q)) continue;
    if (type === CLOUDEVENTS_BATCH) batch = Math.max(batch, q);
    else if (type === "application/json") json = Math.max(json, q);
  }
  return batch > 0 && batch >= json;
}

/**
 * The `Link` header of a batch response whose page is not the last (RFC 8288): the same request with
 * `parameter` set to `value`, as a reference relative to the request's URL (`segment` being the last
 * segment of its path), so that it holds behind any stage or custom-domain prefix.
 */
export function nextPageLink(
  segment: string,
  query: ReadonlyMap<string, readonly string[]>,
  parameter: string,
  value: number,
): string {
  const search = new URLSearchParams();
  for (const [name, values] of query) {
    if (name !== parameter) for (const v of values) search.append(name, v);
  }
  search.set(parameter, String(value));
  return `<${segment}?${search.toString()}>; rel="next"`;
}
