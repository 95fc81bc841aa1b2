import { apiParams } from "../../lib/http/apiParams.ts";
import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { parsePathParams } from "../../lib/http/routeParams.ts";
import { assertSubscriptionName } from "../../lib/subscriptions/definition.ts";
import { redriveSubscription } from "../../lib/subscriptions/redriveSubscription.ts";
import { requireSubscriptionAdmin } from "../../lib/subscriptions/requireSubscriptionAdmin.ts";
import { getRuntime } from "../shared/runtime.ts";

/** POST /subscriptions/{name}/redrive: send parked events again and move the DLQ's messages back. */
export const handler = httpHandler(getRuntime, async (request, { sql, sqs, config, source }) => {
  requireSubscriptionAdmin(request.principal);
  const name = assertSubscriptionName(
    parsePathParams(request, apiParams["POST /subscriptions/{name}/redrive"]).name,
    config.EVENTBUS_QUEUE_PREFIX,
  );
  return json(200, await redriveSubscription(sql, sqs, name, { source }));
});
