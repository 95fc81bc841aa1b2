import { Logger } from "@aws-lambda-powertools/logger";
import { hasScope } from "../../lib/auth/authorize.ts";
import { EventBusError, isEventBusError } from "../../lib/errors.ts";
import { toProblem } from "../../lib/http/problem.ts";
import { putConnection } from "../../lib/realtime/putConnection.ts";
import { realtimeTable, type WebSocketEvent, type WebSocketResult } from "../../lib/realtime/wsHandler.ts";
import { getRuntime } from "../shared/runtime.ts";
import { runtimeClients, traced } from "../shared/traced.ts";

const logger = new Logger({ serviceName: "eventbus-ws" });

/**
 * `$connect`: the token comes as `?token=` (browsers cannot set headers on a WebSocket handshake). A
 * status >= 400 makes API Gateway refuse the handshake with that status.
 */
export const handler = traced(
  "eventbus-ws",
  async (event: WebSocketEvent): Promise<WebSocketResult> => {
    try {
      const runtime = await getRuntime();
      const token = event.queryStringParameters?.token;
      if (!token) throw new EventBusError("UNAUTHORIZED", "Pass a token as ?token=<JWT> when connecting.");
      const principal = await runtime.verifyToken(token);
      if (!hasScope(principal, "realtime:subscribe") && !hasScope(principal, "realtime:publish")) {
        throw new EventBusError(
          "FORBIDDEN",
          "This token has neither 'realtime:subscribe' nor 'realtime:publish'.",
        );
      }
      await putConnection(
        realtimeTable(runtime),
        event.requestContext.connectionId,
        principal,
        event.requestContext.connectedAt,
      );
      return { statusCode: 200 };
    } catch (error) {
      if (!isEventBusError(error)) logger.error("connect failed", { error: error as Error });
      const problem = toProblem(error);
      return { statusCode: problem.status, body: JSON.stringify(problem) };
    }
  },
  runtimeClients,
);
