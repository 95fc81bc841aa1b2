import { requireAccess } from "../../lib/auth/authorize.ts";
import { getStream } from "../../lib/events/getStream.ts";
import { assertStreamId } from "../../lib/events/streamId.ts";
import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { getRuntime } from "../shared/runtime.ts";

/** GET /streams/{streamId} */
export const handler = httpHandler(getRuntime, async (request, { sql }) => {
  const streamId = assertStreamId(request.path("streamId"));
  requireAccess(request.principal, "events:read", streamId);
  return json(200, await getStream(sql, streamId));
});
