import { requireScope } from "../../lib/auth/authorize.ts";
import { validationFailed } from "../../lib/errors.ts";
import {
  acceptsCloudEventsBatch,
  CLOUDEVENTS_BATCH,
  nextPageLink,
  toCloudEvent,
} from "../../lib/events/cloudEvent.ts";
import { readAll } from "../../lib/events/readAll.ts";
import { httpHandler, intParam, json } from "../../lib/http/httpHandler.ts";
import { parseQueryString } from "../../lib/http/queryString.ts";
import { limits } from "../../lib/limits.ts";
import { parseFilterParameter } from "../../lib/patterns/parseFilterParameter.ts";
import { getRuntime } from "../shared/runtime.ts";

/** Every value of a repeatable filter (`?type=A&type=B` means A or B), or `undefined` when absent. */
function textParams(values: string[], name: string): string[] | undefined {
  for (const value of values) {
    if (value.length === 0 || value.length > 200) {
      throw validationFailed(`Query parameter '${name}' must be 1-200 characters.`, { parameter: name });
    }
  }
  return values.length === 0 ? undefined : values;
}

/**
 * GET /events: all streams in global order. A token bounded by `streams` sees only its streams. `type` and
 * `category` may be repeated to mean any of them; `filter` is an EventBridge pattern (URL-encoded JSON)
 * matched against the CloudEvents returned, as a subscription with that filter would match them. With
 * `Accept: application/cloudevents-batch+json`, the page is a CloudEvents batch and the next page's URL
 * is in a `Link` header.
 */
export const handler = httpHandler(getRuntime, async (request, { sql, source }) => {
  requireScope(request.principal, "events:read");
  const after = intParam(request.query("after"), "after", { min: 0 });
  const limit = intParam(request.query("limit"), "limit", { min: 1, max: limits.maxReadLimit });
  const type = textParams(request.queryAll("type"), "type");
  const category = textParams(request.queryAll("category"), "category");
  const filterText = request.query("filter");
  const filter = filterText === undefined ? undefined : parseFilterParameter(filterText);
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
