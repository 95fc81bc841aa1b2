import { Logger } from "@aws-lambda-powertools/logger";
import { enterPresence } from "../../lib/realtime/enterPresence.ts";
import { presenceEnterFrame } from "../../lib/realtime/frames.ts";
import { wsRoute } from "../../lib/realtime/wsHandler.ts";
import { getRuntime } from "../shared/runtime.ts";

const logger = new Logger({ serviceName: "eventbus-ws" });

/** `presence.enter` → ack, `presence.sync` to this connection, `presence.join` to the other members. */
export const handler = wsRoute(
  getRuntime,
  presenceEnterFrame,
  async (frame, connection, { table, api, send }) => {
    await enterPresence(
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
    return undefined; // enterPresence acknowledges itself, before the sync
  },
);
