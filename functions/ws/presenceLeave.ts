import { Logger } from "@aws-lambda-powertools/logger";
import { presenceLeaveFrame } from "../../lib/realtime/frames.ts";
import { leavePresence } from "../../lib/realtime/leavePresence.ts";
import { wsRoute } from "../../lib/realtime/wsHandler.ts";
import { getRuntime } from "../shared/runtime.ts";

const logger = new Logger({ serviceName: "eventbus-ws" });

/** `presence.leave` → `presence.leave` to the other members, then ack. */
export const handler = wsRoute(
  getRuntime,
  presenceLeaveFrame,
  async (frame, connection, { table, api, send }) => {
    await leavePresence(
      {
        table,
        api,
        send,
        onError: (error, connectionId) =>
          logger.warn("presence frame not delivered", { connectionId, error: error as Error }),
      },
      connection,
      frame,
    );
    return undefined; // leavePresence acknowledges itself
  },
);
