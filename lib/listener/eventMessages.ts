import { createHash } from "node:crypto";
import {
  compileInputTransformer,
  type DeliveryFormat,
  type InputTransformer,
} from "../subscriptions/inputTransform.ts";
import type { ForwardEvent } from "../subscriptions/readForwardPage.ts";
import { sqsTraceAttributes } from "../tracing/traceparent.ts";
import { escapeForSqs, storedAttributes } from "./cloudEventJson.ts";
import { type OutgoingMessage, sqsId } from "./sendMessages.ts";

/** A forwarded event: its CloudEvent JSON and what the message attributes and FIFO ids need. */
export interface Outgoing {
  event: ForwardEvent;
  json: string;
}

/** A realtime message stays well under SQS's 1 MiB and leaves room for the broadcaster's framing. */
const MAX_FANOUT_MESSAGE_BYTES = 200 * 1024;

/**
 * FIFO deduplication id: the event's identity in its stream (stream, source and id), so a resend after a
 * crash is dropped by SQS within its 5-minute window. Events without a producer source keep the readable
 * `<stream>/<id>` form (stream ids have no `/`); with one, a hash of the three, which never contains a `/`,
 * so the two forms cannot collide. `retry` tells a deliberate resend (a replay's generation, a redrive)
 * from a duplicate, or SQS would drop that too.
 */
export const deduplicationId = (event: ForwardEvent, retry: string | number) => {
  const source = event.metadataJson?.includes('"source"') ? storedAttributes(event).source : undefined;
  const identity =
    typeof source === "string"
      ? createHash("sha256")
          .update(JSON.stringify([event.streamId, source, event.id]))
          .digest("hex")
      : `${event.streamId}/${event.id}`;
  return sqsId(`${identity}${retry === 0 || retry === "" ? "" : `:r${retry}`}`);
};

/** Builds a message body from a forwarded event. */
export type BodyOf = (outgoing: Outgoing) => string;

/**
 * How a subscription's message bodies are built, when not as the CloudEvent itself (`undefined`): its
 * input transformer's output, or with `format: "raw"` the event's `data` alone.
 */
export function subscriptionBody(
  name: string,
  delivery: { format?: DeliveryFormat; inputTransformer?: InputTransformer | null } | undefined,
): BodyOf | undefined {
  if (delivery?.inputTransformer) {
    const transform = compileInputTransformer(delivery.inputTransformer);
    return ({ event, json }) =>
      transform({
        event: JSON.parse(json) as Record<string, unknown>,
        eventJson: json,
        ingestionTime: event.createdAt,
        subscriptionName: name,
      });
  }
  if (delivery?.format === "raw") return ({ event }) => escapeForSqs(event.dataJson ?? "null");
  return undefined;
}

/**
 * One SQS message per event of a persistent subscription: the CloudEvent, or what `body` makes of it.
 * The message attributes (`type`, `streamid`, `position`) are the same either way.
 */
export function subscriptionMessages(
  events: readonly Outgoing[],
  fifo: boolean,
  retry: string | number,
  body?: BodyOf,
): OutgoingMessage[] {
  return events.map((outgoing) => ({
    body: body ? body(outgoing) : outgoing.json,
    attributes: {
      type: { DataType: "String", StringValue: outgoing.event.type },
      streamid: { DataType: "String", StringValue: outgoing.event.streamId },
      position: { DataType: "Number", StringValue: String(outgoing.event.position) },
    },
    ...(fifo
      ? { groupId: sqsId(outgoing.event.streamId), deduplicationId: deduplicationId(outgoing.event, retry) }
      : {}),
    ...traceOf(outgoing.event),
    events: [outgoing.event],
  }));
}

/**
 * `AWSTraceHeader` from the event's `traceparent` attribute, so a Lambda consumer joins the producer's
 * X-Ray trace. Attributes stay JSON text on the forward path: only an event that mentions a traceparent
 * is parsed.
 */
function traceOf(event: ForwardEvent): { systemAttributes?: OutgoingMessage["systemAttributes"] } {
  if (!event.metadataJson?.includes('"traceparent"')) return {};
  const trace = sqsTraceAttributes(JSON.parse(event.metadataJson) as { traceparent?: unknown });
  return trace ? { systemAttributes: trace } : {};
}

/** Packs consecutive events into `{kind: "events", events}` bodies of at most ~200 KB each. */
export function fanoutMessages(events: readonly Outgoing[]): OutgoingMessage[] {
  const messages: OutgoingMessage[] = [];
  let parts: Outgoing[] = [];
  let bytes = 0;
  const flush = () => {
    if (parts.length > 0) {
      messages.push({
        body: `{"kind":"events","events":[${parts.map((p) => p.json).join(",")}]}`,
        events: parts.map((p) => p.event),
      });
    }
    parts = [];
    bytes = 0;
  };
  for (const outgoing of events) {
    const size = Buffer.byteLength(outgoing.json) + 1;
    if (parts.length > 0 && bytes + size > MAX_FANOUT_MESSAGE_BYTES) flush();
    parts.push(outgoing);
    bytes += size;
  }
  flush();
  return messages;
}
