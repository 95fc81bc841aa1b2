import { requireAccess } from "../../lib/auth/authorize.ts";
import {
  acceptsCloudEventsBatch,
  CLOUDEVENTS_BATCH,
  nextPageLink,
  toCloudEvent,
} from "../../lib/events/cloudEvent.ts";
import { readStream } from "../../lib/events/readStream.ts";
import { apiParams } from "../../lib/http/apiParams.ts";
import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { parseQueryString } from "../../lib/http/queryString.ts";
import { parsePathParams, parseQueryParams } from "../../lib/http/routeParams.ts";
import { getRuntime } from "../shared/runtime.ts";

/**
 * GET /streams/{streamId}/events. With `Accept: application/cloudevents-batch+json`, the page is a
 * CloudEvents batch and the next page's URL is in a `Link` header.
 */
export const handler = httpHandler(getRuntime, async (request, { sql, source }) => {
  const params = apiParams["GET /streams/{streamId}/events"];
  const { streamId } = parsePathParams(request, params);
  requireAccess(request.principal, "events:read", streamId);
  const { direction, from, limit } = parseQueryParams(request, params);
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
