import { fromXRayHeader, type TraceContext, toXRayHeader } from "../tracing/traceparent.ts";
import { newSegmentId, type SegmentSink, xrayTraceId } from "../tracing/xrayDaemon.ts";
import type { OutgoingMessage } from "./sendMessages.ts";

interface Span {
  message: OutgoingMessage;
  context: TraceContext;
  id: string;
}

/**
 * The listener's hop in each traced event's X-Ray trace: a segment per sampled event of a subscription,
 * from when its message was built to when SQS accepted it (or it was parked: then marked as an error).
 * Its id becomes the `Parent` of the message's `AWSTraceHeader`, so a Lambda consumer's segment hangs
 * under it, and it hangs under the append that stamped the event's `traceparent`.
 */
export function startForwardSpans(
  messages: readonly OutgoingMessage[],
  target: string,
  sink: SegmentSink,
): { end(refused: ReadonlySet<OutgoingMessage>): void } {
  const startTime = Date.now() / 1000;
  const spans: Span[] = [];
  for (const message of messages) {
    const header = message.systemAttributes?.AWSTraceHeader?.StringValue;
    const context = fromXRayHeader(header);
    if (!context?.sampled) continue;
    const id = newSegmentId();
    message.systemAttributes!.AWSTraceHeader = {
      DataType: "String",
      StringValue: toXRayHeader({ ...context, parentId: id }),
    };
    spans.push({ message, context, id });
  }
  return {
    end(refused) {
      const endTime = Date.now() / 1000;
      for (const { message, context, id } of spans) {
        const event = message.events?.[0];
        sink.send({
          name: "eventbus-listener",
          id,
          trace_id: xrayTraceId(context.traceId),
          parent_id: context.parentId,
          start_time: startTime,
          end_time: endTime,
          origin: "AWS::ECS::Container",
          ...(refused.has(message) ? { error: true } : {}),
          annotations: {
            subscription: target,
            ...(event ? { position: String(event.position), streamid: event.streamId } : {}),
          },
          ...(event ? { metadata: { eventbus: { eventId: event.id, type: event.type } } } : {}),
        });
      }
    },
  };
}
