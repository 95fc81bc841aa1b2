import { Logger } from "@aws-lambda-powertools/logger";
import { apiParams } from "../../lib/http/apiParams.ts";
import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { parsePathParams } from "../../lib/http/routeParams.ts";
import { authorizeSubscribe } from "../../lib/realtime/authorizeTopic.ts";
import { listLivePresence } from "../../lib/realtime/presenceProbe.ts";
import { parsePresenceTopic } from "../../lib/realtime/presenceTable.ts";
import { managementApiFor, realtimeTable } from "../../lib/realtime/wsHandler.ts";
import { getRuntime } from "../shared/runtime.ts";

const logger = new Logger({ serviceName: "eventbus-http" });

/**
 * GET /topics/{topic}/presence: who is present on a topic, as a `presence.sync` would list them, less the
 * members API Gateway reports gone (probed at most every few seconds per topic; see `listLivePresence`).
 */
export const handler = httpHandler(getRuntime, async (request, runtime) => {
  const topic = parsePresenceTopic(parsePathParams(request, apiParams["GET /topics/{topic}/presence"]).topic);
  authorizeSubscribe(request.principal, { kind: "ephemeral", name: topic });
  const api = runtime.config.EVENTBUS_WS_MANAGEMENT_ENDPOINT ? managementApiFor(runtime.config) : undefined;
  const members = await listLivePresence(
    {
      table: realtimeTable(runtime),
      ...(api ? { api } : {}),
      onError: (error, connectionId) =>
        logger.warn("could not check a presence member's connection", {
          connectionId,
          error: error as Error,
        }),
    },
    topic,
  );
  return json(200, { topic, members });
});
