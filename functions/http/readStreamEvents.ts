import { requireAccess } from "../../lib/auth/authorize.ts";
import { validationFailed } from "../../lib/errors.ts";
import { toCloudEvent } from "../../lib/events/cloudEvent.ts";
import { readStream } from "../../lib/events/readStream.ts";
import { assertStreamId } from "../../lib/events/streamId.ts";
import { httpHandler, intParam, json } from "../../lib/http/httpHandler.ts";
import { limits } from "../../lib/limits.ts";
import { getRuntime } from "../shared/runtime.ts";

/** GET /streams/{streamId}/events */
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
  return json(200, { ...page, events: page.events.map((event) => toCloudEvent(event, source)) });
});
