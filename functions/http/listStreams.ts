import { requireScope } from "../../lib/auth/authorize.ts";
import { listStreams } from "../../lib/console/listStreams.ts";
import { validationFailed } from "../../lib/errors.ts";
import { httpHandler, intParam, json } from "../../lib/http/httpHandler.ts";
import { getRuntime } from "../shared/runtime.ts";

function textParam(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (value.length === 0 || value.length > 200) {
    throw validationFailed(`Query parameter '${name}' must be 1-200 characters.`, { parameter: name });
  }
  return value;
}

/**
 * GET /streams?prefix=&category=&after=&limit=: streams in id order, a page at a time (`next` is the cursor
 * to pass as `after`). A token bounded by `streams` lists only its streams.
 */
export const handler = httpHandler(getRuntime, async (request, { sql }) => {
  requireScope(request.principal, "events:read");
  const prefix = textParam(request.query("prefix"), "prefix");
  const category = textParam(request.query("category"), "category");
  const after = textParam(request.query("after"), "after");
  const limit = intParam(request.query("limit"), "limit", { min: 1, max: 1000 }) ?? 100;
  const page = await listStreams(sql, {
    limit,
    ...(prefix === undefined ? {} : { prefix }),
    ...(category === undefined ? {} : { category }),
    ...(after === undefined ? {} : { after }),
    ...(request.principal.streams === undefined ? {} : { streamPatterns: request.principal.streams }),
  });
  return json(200, page);
});
