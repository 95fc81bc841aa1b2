import { requireScope } from "../../lib/auth/authorize.ts";
import {
  acceptsCloudEventsBatch,
  CLOUDEVENTS_BATCH,
  nextPageLink,
  toCloudEvent,
} from "../../lib/events/cloudEvent.ts";
import { readAll } from "../../lib/events/readAll.ts";
import { apiParams } from "../../lib/http/apiParams.ts";
import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { parseQueryString } from "../../lib/http/queryString.ts";
import { parseQueryParams } from "../../lib/http/routeParams.ts";
import { getRuntime } from "../shared/runtime.ts";

/**
 * GET /events: all streams in global order. A token bounded by `streams` sees only its streams. `type` and
 * `category` may be repeated to mean any of them; `filter` is an EventBridge pattern (URL-encoded JSON)
 * matched against the CloudEvents returned, as a subscription with that filter would match them. With
 * `Accept: application/cloudevents-batch+json`, the page is a CloudEvents batch and the next page's URL
 * is in a `Link` header.
 */
export const handler = httpHandler(getRuntime, async (request, { sql, source }) => {
  requireScope(request.principal, "events:read");
  // `type` and `category` are repeatable (`?type=A&type=B` means A or B); `filter` arrives parsed.
  const { after, limit, type, category, filter } = parseQueryParams(request, apiParams["GET /events"]);
  const page = await readAll(sql, {
    ...(after === undefined ? {} : { after }),
    ...(limit === undefined ? {} : { limit }),
    ...(type === undefined ? {} : { type }),
    ...(category === undefined ? {} : { category }),
    ...(request.principal.streams === undefined ? {} : { streamPatterns: request.principal.streams }),
    ...(filter === undefined ? {} : { filter: { pattern: filter, source } }),
  });
  const events = page.events.map((event) => toCloudEvent(event, source));
  if (acceptsCloudEventsBatch(request.header("accept"))) {
    const link: Record<string, string> =
      page.next === null
        ? {}
        : { link: nextPageLink("events", parseQueryString(request.event), "after", page.next) };
    return json(200, events, { "content-type": CLOUDEVENTS_BATCH, ...link });
  }
  return json(200, { events, next: page.next });
});
