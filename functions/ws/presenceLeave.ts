import { presenceLeaveFrame } from "../../lib/realtime/frames.ts";
import { leavePresence } from "../../lib/realtime/leavePresence.ts";
import { wsRoute } from "../../lib/realtime/wsHandler.ts";
import { getRuntime } from "../shared/runtime.ts";
import { runtimeClients, traced } from "../shared/traced.ts";
import { presenceDeps } from "./presenceDeps.ts";

/** `presence.leave` → `presence.leave` to the other members, then ack. */
export const handler = traced(
  "eventbus-ws",
  wsRoute(getRuntime, presenceLeaveFrame, async (frame, connection, context) => {
    await leavePresence(presenceDeps(context), connection, frame);
    return undefined; // leavePresence acknowledges itself
  }),
  runtimeClients,
);
