import { requireAccess } from "../../lib/auth/authorize.ts";
import { validationFailed } from "../../lib/errors.ts";
import {
  acceptsCloudEventsBatch,
  CLOUDEVENTS_BATCH,
  nextPageLink,
  toCloudEvent,
} from "../../lib/events/cloudEvent.ts";
import { readStream } from "../../lib/events/readStream.ts";
import { assertStreamId } from "../../lib/events/streamId.ts";
import { httpHandler, intParam, json } from "../../lib/http/httpHandler.ts";
import { parseQueryString } from "../../lib/http/queryString.ts";
import { limits } from "../../lib/limits.ts";
import { getRuntime } from "../shared/runtime.ts";

/**
 * GET /streams/{streamId}/events. With `Accept: application/cloudevents-batch+json`, the page is a
 * CloudEvents batch and the next page's URL is in a `Link` header.
 */
export const handler = httpHandler(getRuntime, async (request, { sql, source }) => {
  const streamId = assertStreamId(request.path("streamId"));
  requireAccess(request.principal, "events:read", streamId);
  const direction = request.query("direction") ?? "forward";
  if (direction !== "forward" && direction !== "backward") {
    throw validationFailed("direction must be forward or backward.", { parameter: "direction" });
  }
  const from = intParam(request.query("from"), "from", { min: 0 });
  const limit = intParam(request.query("limit"), "limit", { min: 1, max: limits.maxReadLimit });
  const page = await readStream(sql, streamId, {
    direction,
    ...(from === undefined ? {} : { from }),
    ...(limit === undefined ? {} : { limit }),
  });
  const events = page.events.map((event) => toCloudEvent(event, source));
  if (acceptsCloudEventsBatch(request.header("accept"))) {
    const link: Record<string, string> =
      page.next === null
        ? {}
        : { link: nextPageLink("events", parseQueryString(request.event), "from", page.next) };
    return json(200, events, { "content-type": CLOUDEVENTS_BATCH, ...link });
  }
  return json(200, { ...page, events });
});
