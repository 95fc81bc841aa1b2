import { principalOf } from "../../lib/realtime/connection.ts";
import { publishFrame } from "../../lib/realtime/frames.ts";
import { publishToTopic } from "../../lib/realtime/publishToTopic.ts";
import { wsRoute } from "../../lib/realtime/wsHandler.ts";
import { getRuntime } from "../shared/runtime.ts";
import { runtimeClients, traced } from "../shared/traced.ts";

/** `publish` → ack once the message is on the fan-out queue; subscribers get it from the broadcaster. */
export const handler = traced(
  "eventbus-ws",
  wsRoute(getRuntime, publishFrame, async (frame, connection, { runtime }) => {
    await publishToTopic(
      { sqs: runtime.sqs, queueUrl: runtime.config.EVENTBUS_REALTIME_QUEUE_URL },
      principalOf(connection),
      {
        topic: frame.topic,
        data: frame.data,
        sender: connection.connectionId,
        excludeSelf: frame.excludeSelf,
      },
    );
    return frame.id === undefined ? { type: "ack" } : { type: "ack", id: frame.id };
  }),
  runtimeClients,
);
