import { requireAccess } from "../../lib/auth/authorize.ts";
import { getStream } from "../../lib/events/getStream.ts";
import { apiParams } from "../../lib/http/apiParams.ts";
import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { parsePathParams } from "../../lib/http/routeParams.ts";
import { getRuntime } from "../shared/runtime.ts";

/** GET /streams/{streamId} */
export const handler = httpHandler(getRuntime, async (request, { sql }) => {
  const { streamId } = parsePathParams(request, apiParams["GET /streams/{streamId}"]);
  requireAccess(request.principal, "events:read", streamId);
  return json(200, await getStream(sql, streamId));
});
