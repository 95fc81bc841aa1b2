import { apiParams } from "../../lib/http/apiParams.ts";
import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { parsePathParams } from "../../lib/http/routeParams.ts";
import { parseMessageBody } from "../../lib/realtime/parseMessageBody.ts";
import { publishToTopic } from "../../lib/realtime/publishToTopic.ts";
import { getRuntime } from "../shared/runtime.ts";

/** POST /topics/{topic}/messages: an ephemeral broadcast to the topic's WebSocket subscribers. */
export const handler = httpHandler(getRuntime, async (request, runtime) => {
  const { topic } = parsePathParams(request, apiParams["POST /topics/{topic}/messages"]);
  const data = parseMessageBody(request.body());
  await publishToTopic(
    { sqs: runtime.sqs, queueUrl: runtime.config.EVENTBUS_REALTIME_QUEUE_URL },
    request.principal,
    { topic, data, sender: null, excludeSelf: false },
  );
  return json(202, { topic });
});
