import { authFrame } from "../../lib/realtime/frames.ts";
import { reauthenticate } from "../../lib/realtime/reauthenticate.ts";
import { wsRoute } from "../../lib/realtime/wsHandler.ts";
import { getRuntime } from "../shared/runtime.ts";
import { runtimeClients, traced } from "../shared/traced.ts";

/**
 * `auth` → ack once the connection carries the fresh token (its scopes, bound and expiry). Accepted even
 * when the old token has just expired, as long as the connection has not been closed yet.
 */
export const handler = traced(
  "eventbus-ws",
  wsRoute(
    getRuntime,
    authFrame,
    async (frame, connection, { runtime, table }) => {
      await reauthenticate({ table, verifyToken: runtime.verifyToken }, connection, frame.token);
      return frame.id === undefined ? { type: "ack" } : { type: "ack", id: frame.id };
    },
    { acceptExpiredToken: true },
  ),
  runtimeClients,
);
