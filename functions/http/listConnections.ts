import { requireScope } from "../../lib/auth/authorize.ts";
import { listConnections } from "../../lib/console/listConnections.ts";
import { apiParams } from "../../lib/http/apiParams.ts";
import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { parseQueryParams } from "../../lib/http/routeParams.ts";
import { realtimeTable } from "../../lib/realtime/wsHandler.ts";
import { getRuntime } from "../shared/runtime.ts";

/**
 * GET /realtime/connections?limit=&cursor=: WebSocket connections with their subject and topics, for
 * operators (`admin` scope: it shows every client's identity).
 */
export const handler = httpHandler(getRuntime, async (request, runtime) => {
  requireScope(request.principal, "admin");
  const { limit, cursor } = parseQueryParams(request, apiParams["GET /realtime/connections"]);
  return json(
    200,
    await listConnections(realtimeTable(runtime), { limit, ...(cursor === undefined ? {} : { cursor }) }),
  );
});
