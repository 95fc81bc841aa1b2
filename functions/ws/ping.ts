import { pingFrame } from "../../lib/realtime/frames.ts";
import { wsRoute } from "../../lib/realtime/wsHandler.ts";
import { getRuntime } from "../shared/runtime.ts";
import { runtimeClients, traced } from "../shared/traced.ts";

/** `ping` → pong with the connection id; also keeps the connection from API Gateway's 10-minute idle timeout. */
export const handler = traced(
  "eventbus-ws",
  wsRoute(getRuntime, pingFrame, async (frame, connection) => ({
    type: "pong",
    ...(frame.id === undefined ? {} : { id: frame.id }),
    connectionId: connection.connectionId,
  })),
  runtimeClients,
);
