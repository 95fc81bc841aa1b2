import { requireAccess } from "../../lib/auth/authorize.ts";
import { validationFailed } from "../../lib/errors.ts";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { parseAppendBody } from "../../lib/events/parseAppendBody.ts";
import { assertStreamId } from "../../lib/events/streamId.ts";
import type { ExpectedVersion } from "../../lib/events/types.ts";
import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { traceparentForRequest, withTraceparent } from "../../lib/tracing/traceparent.ts";
import { getRuntime } from "../shared/runtime.ts";

function expectedVersionParam(value: string | undefined): ExpectedVersion {
  if (value === undefined || value === "any" || value === "no_stream" || value === "stream_exists") {
    return value ?? "any";
  }
  if (/^\d{1,15}$/.test(value)) return Number(value);
  throw validationFailed("expectedVersion must be any, no_stream, stream_exists or a version number >= 0.", {
    parameter: "expectedVersion",
  });
}

/** POST /streams/{streamId}/events */
export const handler = httpHandler(getRuntime, async (request, { sql }) => {
  const streamId = assertStreamId(request.path("streamId"));
  requireAccess(request.principal, "events:write", streamId);
  const expectedVersion = expectedVersionParam(request.query("expectedVersion"));
  const headers = Object.fromEntries(
    Object.entries(request.event.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
  );
  const parsed = parseAppendBody(headers, request.body());
  // The request's trace travels with its events (the CloudEvents `traceparent` extension) unless the
  // producer set one, so one trace shows append, listener, SQS and consumer.
  const traceparent = traceparentForRequest(headers);
  const events = traceparent
    ? parsed.map((event) => ({ ...event, attributes: withTraceparent(event.attributes ?? {}, traceparent) }))
    : parsed;
  const result = await appendToStream(sql, streamId, events, { expectedVersion });
  return json(201, { streamId, version: result.version, events: result.events });
});
