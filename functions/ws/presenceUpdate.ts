import { Logger } from "@aws-lambda-powertools/logger";
import { presenceUpdateFrame } from "../../lib/realtime/frames.ts";
import { updatePresence } from "../../lib/realtime/updatePresence.ts";
import { wsRoute } from "../../lib/realtime/wsHandler.ts";
import { getRuntime } from "../shared/runtime.ts";

const logger = new Logger({ serviceName: "eventbus-ws" });

/** `presence.update` → ack, `presence.update` to the other members. */
export const handler = wsRoute(
  getRuntime,
  presenceUpdateFrame,
  async (frame, connection, { table, api, send }) => {
    await updatePresence(
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
    return undefined; // updatePresence acknowledges itself
  },
);
