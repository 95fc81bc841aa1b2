import { EventBusError } from "../../lib/errors.ts";
import { frameIdOf } from "../../lib/realtime/frames.ts";
import { postFrame } from "../../lib/realtime/postFrame.ts";
import {
  errorFrame,
  managementApiFor,
  parseFrameBody,
  type WebSocketEvent,
  type WebSocketResult,
} from "../../lib/realtime/wsHandler.ts";
import { getRuntime } from "../shared/runtime.ts";
import { runtimeClients, traced } from "../shared/traced.ts";

const ACTIONS = [
  "subscribe",
  "unsubscribe",
  "publish",
  "ping",
  "auth",
  "presence.enter",
  "presence.update",
  "presence.leave",
];

/** `$default`: every frame no route matched (not JSON, no `action`, an unknown one) gets an error frame. */
export const handler = traced(
  "eventbus-ws",
  async (event: WebSocketEvent): Promise<WebSocketResult> => {
    const runtime = await getRuntime();
    let id: string | number | undefined;
    let error: EventBusError;
    try {
      const body = parseFrameBody(event);
      id = frameIdOf(body);
      const action = (body as { action?: unknown } | null)?.action;
      error =
        typeof action === "string"
          ? new EventBusError(
              "ROUTE_NOT_FOUND",
              `Unknown action '${action.slice(0, 64)}'; use ${ACTIONS.join(", ")}.`,
            )
          : new EventBusError("VALIDATION_FAILED", `Frames need an "action": one of ${ACTIONS.join(", ")}.`);
    } catch (parseError) {
      error = parseError as EventBusError;
    }
    // For a connection that left meanwhile this resolves `gone`: there is no one to answer.
    await postFrame(
      managementApiFor(runtime.config, event),
      event.requestContext.connectionId,
      errorFrame(error, id),
    );
    return { statusCode: 200 };
  },
  runtimeClients,
);
