import { deleteConnection } from "../../lib/realtime/deleteConnection.ts";
import { realtimeTable, type WebSocketEvent, type WebSocketResult } from "../../lib/realtime/wsHandler.ts";
import { getRuntime } from "../shared/runtime.ts";

/** `$disconnect` (best-effort on AWS; `410 Gone` on the next send and the TTL cover its misses). */
export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => {
  await deleteConnection(realtimeTable(await getRuntime()), event.requestContext.connectionId);
  return { statusCode: 200 };
};
