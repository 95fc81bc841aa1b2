import { requireScope } from "../../lib/auth/authorize.ts";
import { isConnectionCursor, listConnections } from "../../lib/console/listConnections.ts";
import { validationFailed } from "../../lib/errors.ts";
import { httpHandler, intParam, json } from "../../lib/http/httpHandler.ts";
import { realtimeTable } from "../../lib/realtime/wsHandler.ts";
import { getRuntime } from "../shared/runtime.ts";

/**
 * GET /realtime/connections?limit=&cursor=: WebSocket connections with their subject and topics, for
 * operators (`admin` scope: it shows every client's identity).
 */
export const handler = httpHandler(getRuntime, async (request, runtime) => {
  requireScope(request.principal, "admin");
  const limit = intParam(request.query("limit"), "limit", { min: 1, max: 1000 }) ?? 100;
  const cursor = request.query("cursor");
  if (cursor !== undefined && !isConnectionCursor(cursor)) {
    throw validationFailed("Query parameter 'cursor' is not a cursor this route handed out.", {
      parameter: "cursor",
    });
  }
  return json(
    200,
    await listConnections(realtimeTable(runtime), { limit, ...(cursor === undefined ? {} : { cursor }) }),
  );
});
