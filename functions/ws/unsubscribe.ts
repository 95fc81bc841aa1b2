import { deleteMembership } from "../../lib/realtime/deleteMembership.ts";
import { unsubscribeFrame } from "../../lib/realtime/frames.ts";
import { releaseTopic } from "../../lib/realtime/reserveTopic.ts";
import { parseTopic } from "../../lib/realtime/topic.ts";
import { wsRoute } from "../../lib/realtime/wsHandler.ts";
import { getRuntime } from "../shared/runtime.ts";
import { runtimeClients, traced } from "../shared/traced.ts";

/** `unsubscribe` → ack (also when the connection was not subscribed: the outcome is the same). */
export const handler = traced(
  "eventbus-ws",
  wsRoute(getRuntime, unsubscribeFrame, async (frame, connection, { table }) => {
    const topic = parseTopic(frame.topic);
    await deleteMembership(table, connection.connectionId, topic.name);
    // The slot goes back only once no membership is left that could still receive events.
    await releaseTopic(table, connection.connectionId, topic.name);
    return frame.id === undefined ? { type: "ack" } : { type: "ack", id: frame.id };
  }),
  runtimeClients,
);
