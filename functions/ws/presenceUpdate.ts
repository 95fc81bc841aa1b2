import { presenceUpdateFrame } from "../../lib/realtime/frames.ts";
import { updatePresence } from "../../lib/realtime/updatePresence.ts";
import { wsRoute } from "../../lib/realtime/wsHandler.ts";
import { getRuntime } from "../shared/runtime.ts";
import { runtimeClients, traced } from "../shared/traced.ts";
import { presenceDeps } from "./presenceDeps.ts";

/** `presence.update` → ack, `presence.update` to the other members. */
export const handler = traced(
  "eventbus-ws",
  wsRoute(getRuntime, presenceUpdateFrame, async (frame, connection, context) => {
    await updatePresence(presenceDeps(context), connection, frame);
    return undefined; // updatePresence acknowledges itself
  }),
  runtimeClients,
);
