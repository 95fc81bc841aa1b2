import { requireScope } from "../../lib/auth/authorize.ts";
import { listStreams } from "../../lib/console/listStreams.ts";
import { apiParams } from "../../lib/http/apiParams.ts";
import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { parseQueryParams } from "../../lib/http/routeParams.ts";
import { getRuntime } from "../shared/runtime.ts";

/**
 * GET /streams?prefix=&category=&after=&limit=: streams in id order, a page at a time (`next` is the cursor
 * to pass as `after`). A token bounded by `streams` lists only its streams.
 */
export const handler = httpHandler(getRuntime, async (request, { sql }) => {
  requireScope(request.principal, "events:read");
  const { prefix, category, after, limit } = parseQueryParams(request, apiParams["GET /streams"]);
  const page = await listStreams(sql, {
    limit,
    ...(prefix === undefined ? {} : { prefix }),
    ...(category === undefined ? {} : { category }),
    ...(after === undefined ? {} : { after }),
    ...(request.principal.streams === undefined ? {} : { streamPatterns: request.principal.streams }),
  });
  return json(200, page);
});
