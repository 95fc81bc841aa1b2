import { Logger } from "@aws-lambda-powertools/logger";
import { deleteConnection } from "../../lib/realtime/deleteConnection.ts";
import {
  managementApiFor,
  realtimeTable,
  type WebSocketEvent,
  type WebSocketResult,
} from "../../lib/realtime/wsHandler.ts";
import { getRuntime } from "../shared/runtime.ts";
import { runtimeClients, traced } from "../shared/traced.ts";

const logger = new Logger({ serviceName: "eventbus-ws" });

/**
 * `$disconnect` (best-effort on AWS; `410 Gone` on the next send and the TTL cover its misses): removes the
 * connection's items and tells the members of the topics it was present on.
 */
export const handler = traced(
  "eventbus-ws",
  async (event: WebSocketEvent): Promise<WebSocketResult> => {
    const runtime = await getRuntime();
    await deleteConnection(realtimeTable(runtime), event.requestContext.connectionId, {
      api: managementApiFor(runtime.config, event),
      onError: (error, connectionId) =>
        logger.warn("presence leave not delivered", { connectionId, error: error as Error }),
    });
    return { statusCode: 200 };
  },
  runtimeClients,
);
