import { requireAccess } from "../../lib/auth/authorize.ts";
import { appendNothing, appendToStream } from "../../lib/events/appendToStream.ts";
import { parseAppendBody } from "../../lib/events/parseAppendBody.ts";
import { apiParams } from "../../lib/http/apiParams.ts";
import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { parsePathParams, parseQueryParams } from "../../lib/http/routeParams.ts";
import { producerTraceSegments } from "../../lib/tracing/appendSegments.ts";
import { parseTraceparent, traceparentForAppend, withTraceparent } from "../../lib/tracing/traceparent.ts";
import { type SegmentSink, xrayDaemonSink } from "../../lib/tracing/xrayDaemon.ts";
import { getRuntime } from "../shared/runtime.ts";

// On Lambda the events continue the function's own X-Ray trace. With the Powertools tracer on (see
// `functions/shared/runtime.ts`), the handler's subsegment is their parent; the tracer is loaded only
// there, as importing it costs every promise of the process an async hook.
const onLambda = Boolean(process.env.AWS_LAMBDA_FUNCTION_NAME);
const lambdaTracing =
  onLambda && process.env.POWERTOOLS_TRACE_ENABLED !== "false"
    ? await import("../../lib/tracing/lambdaTracer.ts")
    : undefined;
const tracer = lambdaTracing?.createTracer({ serviceName: "eventbus-http", enabled: true });
// Segments in producers' own traces go to the function's X-Ray daemon, as the tracer's do.
const daemonAddress = tracer ? process.env.AWS_XRAY_DAEMON_ADDRESS : undefined;
let daemon: SegmentSink | undefined;

/** The X-Ray header of this invocation's own work, or `undefined` off Lambda. */
function lambdaTrace(): string | undefined {
  if (!onLambda) return undefined;
  // `_X_AMZN_TRACE_ID` changes with every invocation; its `Parent` is the function's segment.
  return (tracer && lambdaTracing?.currentTraceHeader(tracer)) ?? process.env._X_AMZN_TRACE_ID;
}

/** POST /streams/{streamId}/events */
export const handler = httpHandler(getRuntime, async (request, { sql }) => {
  const params = apiParams["POST /streams/{streamId}/events"];
  const { streamId } = parsePathParams(request, params);
  requireAccess(request.principal, "events:write", streamId);
  const { expectedVersion } = parseQueryParams(request, params);
  const headers = request.headers();
  const parsed = parseAppendBody(headers, request.body());
  if (parsed.length === 0) {
    // An empty CloudEvents batch stores nothing; the expected version is still checked.
    const { version } = await appendNothing(sql, streamId, { expectedVersion });
    return json(200, { streamId, version, events: [] });
  }
  // The append's trace travels with its events (the CloudEvents `traceparent` extension) unless the
  // producer set one, so one trace shows append, listener, SQS and consumer (precedence in
  // `traceparentForAppend`). A W3C header the Lambda's trace overrides stays findable as an annotation.
  const own = lambdaTrace();
  const traceparent = traceparentForAppend({ lambdaTrace: own, headers });
  const requested = parseTraceparent(headers.traceparent);
  if (own && requested && tracer) tracer.putAnnotation("request_traceparent", headers.traceparent!.trim());
  const events = traceparent
    ? parsed.map((event) => ({ ...event, attributes: withTraceparent(event.attributes ?? {}, traceparent) }))
    : parsed;
  const startTime = Date.now() / 1000;
  const result = await appendToStream(sql, streamId, events, { expectedVersion });
  if (daemonAddress) {
    // Events that keep their producer's trace: the append is recorded in that trace as well.
    const segments = producerTraceSegments({
      traceparents: parsed.map((event) => event.attributes?.traceparent),
      lambdaTrace: own,
      streamId,
      startTime,
      endTime: Date.now() / 1000,
    });
    if (segments.length > 0) {
      daemon ??= xrayDaemonSink(daemonAddress);
      for (const segment of segments) daemon.send(segment);
      tracer?.putAnnotation("producer_trace_id", segments[0]!.trace_id);
    }
  }
  return json(201, { streamId, version: result.version, events: result.events });
});
