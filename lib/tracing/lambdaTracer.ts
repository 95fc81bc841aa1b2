import { Tracer } from "@aws-lambda-powertools/tracer";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import type { MiddlewareObj } from "@middy/core";

/**
 * A Powertools tracer (AWS X-Ray) for one Lambda function. Off unless `enabled`: the caller reads
 * `POWERTOOLS_TRACE_ENABLED` / the function's tracing setting at the edge; locally it stays off, so
 * `npm run dev` needs no X-Ray daemon.
 */
export function createTracer(options: { serviceName: string; enabled: boolean }): Tracer {
  return new Tracer({
    serviceName: options.serviceName,
    enabled: options.enabled,
    captureHTTPsRequests: false,
  });
}

/**
 * Middy middleware that opens the handler's subsegment, records cold starts and annotates errors; add it
 * with `.use(traceHandler(tracer))`. The AWS SDK clients are traced with `tracer.captureAWSv3Client(client)`.
 */
export const traceHandler = (tracer: Tracer): MiddlewareObj =>
  captureLambdaHandler(tracer, { captureResponse: false }) as MiddlewareObj;

/**
 * The X-Ray header of the work in progress: the current trace's `Root`, the (sub)segment the code runs in
 * (inside `traceHandler`, the handler's own subsegment) as `Parent`, and the trace's `Sampled` decision.
 * `undefined` outside a traced invocation; then Lambda's `_X_AMZN_TRACE_ID` (whose `Parent` is the
 * function's segment) is the next best thing.
 */
export function currentTraceHeader(tracer: Tracer): string | undefined {
  const current = tracer.getSegment();
  if (!current) return undefined;
  // A subsegment knows its segment; the segment holds the trace id and the sampling decision.
  const segment = "trace_id" in current ? current : current.segment;
  if (!segment?.trace_id || !current.id) return undefined;
  return `Root=${segment.trace_id};Parent=${current.id};Sampled=${segment.notTraced ? 0 : 1}`;
}
