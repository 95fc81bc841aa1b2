import { apiParams } from "../../lib/http/apiParams.ts";
import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { parsePathParams } from "../../lib/http/routeParams.ts";
import { assertSubscriptionName } from "../../lib/subscriptions/definition.ts";
import { parseReplayRequest } from "../../lib/subscriptions/parseReplayRequest.ts";
import { replaySubscription } from "../../lib/subscriptions/replaySubscription.ts";
import { readJsonBody } from "../../lib/subscriptions/requestBody.ts";
import { requireSubscriptionAdmin } from "../../lib/subscriptions/requireSubscriptionAdmin.ts";
import { getRuntime } from "../shared/runtime.ts";

/** POST /subscriptions/{name}/replay {from}: redeliver every matching event after `from`. */
export const handler = httpHandler(getRuntime, async (request, { sql, config }) => {
  requireSubscriptionAdmin(request.principal);
  const name = assertSubscriptionName(
    parsePathParams(request, apiParams["POST /subscriptions/{name}/replay"]).name,
    config.EVENTBUS_QUEUE_PREFIX,
  );
  const from = parseReplayRequest(readJsonBody(request));
  const checkpoint = await replaySubscription(sql, name, from);
  return json(200, { name, checkpoint });
});
