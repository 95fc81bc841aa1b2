import { subscribeFrame } from "../../lib/realtime/frames.ts";
import { subscribeToTopic } from "../../lib/realtime/subscribeToTopic.ts";
import { wsRoute } from "../../lib/realtime/wsHandler.ts";
import { getRuntime } from "../shared/runtime.ts";
import { runtimeClients, traced } from "../shared/traced.ts";

/** `subscribe` → ack, then (with `from`) the history, then live events. */
export const handler = traced(
  "eventbus-ws",
  wsRoute(getRuntime, subscribeFrame, async (frame, connection, { runtime, table, send }) => {
    await subscribeToTopic({ table, sql: runtime.sql, source: runtime.source, send }, connection, frame);
    return undefined; // subscribeToTopic sends the ack itself, before any history
  }),
  runtimeClients,
);
