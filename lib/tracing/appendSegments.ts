import { parseTraceparent, parseXRayHeader } from "./traceparent.ts";
import { newSegmentId, type XRaySegment, xrayTraceId } from "./xrayDaemon.ts";

/**
 * The append's hop in the traces producers put on their events. An event that arrives with a valid
 * `traceparent` of its own keeps it (the CloudEvents tracing extension: it names the trace that started
 * the event), so the listener and the consumer continue the producer's trace rather than the Lambda's. For
 * the append to appear in that trace too, the handler records one segment in it per distinct sampled
 * producer trace of the request (at most `max`), a child of the producer's span, annotated with the
 * Lambda's own trace id (and that trace's handler segment with the producer's, see `appendEvents.ts`), so
 * either trace leads to the other. Traces the Lambda's own already is, and unsampled ones, get none.
 */
export function producerTraceSegments(options: {
  traceparents: readonly unknown[];
  lambdaTrace: string | undefined;
  streamId: string;
  startTime: number;
  endTime: number;
  max?: number;
}): XRaySegment[] {
  const own = parseXRayHeader(options.lambdaTrace);
  const segments = new Map<string, XRaySegment>();
  for (const value of options.traceparents) {
    const producer = parseTraceparent(value);
    if (!producer?.sampled || producer.traceId === own?.traceId || segments.has(producer.traceId)) continue;
    if (segments.size >= (options.max ?? 10)) break;
    segments.set(producer.traceId, {
      name: "eventbus-append",
      id: newSegmentId(),
      trace_id: xrayTraceId(producer.traceId),
      parent_id: producer.parentId,
      start_time: options.startTime,
      end_time: options.endTime,
      origin: "AWS::Lambda::Function",
      annotations: {
        streamid: options.streamId,
        ...(own ? { lambda_trace_id: xrayTraceId(own.traceId) } : {}),
      },
    });
  }
  return [...segments.values()];
}
