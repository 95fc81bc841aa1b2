import { apiParams } from "../../lib/http/apiParams.ts";
import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { parsePathParams } from "../../lib/http/routeParams.ts";
import { parseMessageBody } from "../../lib/realtime/parseMessageBody.ts";
import { sendToConnection } from "../../lib/realtime/sendToConnection.ts";
import { managementApiFor, realtimeTable } from "../../lib/realtime/wsHandler.ts";
import { getRuntime } from "../shared/runtime.ts";

/** POST /connections/{connectionId}/messages: a direct message to one WebSocket connection (410 if gone). */
export const handler = httpHandler(getRuntime, async (request, runtime) => {
  const { connectionId } = parsePathParams(request, apiParams["POST /connections/{connectionId}/messages"]);
  const data = parseMessageBody(request.body());
  await sendToConnection(
    { table: realtimeTable(runtime), api: managementApiFor(runtime.config) },
    request.principal,
    connectionId,
    data,
  );
  return json(202, { connectionId });
});
