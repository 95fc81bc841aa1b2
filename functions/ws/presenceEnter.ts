import { enterPresence } from "../../lib/realtime/enterPresence.ts";
import { presenceEnterFrame } from "../../lib/realtime/frames.ts";
import { wsRoute } from "../../lib/realtime/wsHandler.ts";
import { getRuntime } from "../shared/runtime.ts";
import { runtimeClients, traced } from "../shared/traced.ts";
import { presenceDeps } from "./presenceDeps.ts";

/** `presence.enter` → ack, `presence.sync` to this connection, `presence.join` to the other members. */
export const handler = traced(
  "eventbus-ws",
  wsRoute(getRuntime, presenceEnterFrame, async (frame, connection, context) => {
    await enterPresence(presenceDeps(context), connection, frame);
    return undefined; // enterPresence acknowledges itself, before the sync
  }),
  runtimeClients,
);
