import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { assertSubscriptionName } from "../../lib/subscriptions/definition.ts";
import { redriveSubscription } from "../../lib/subscriptions/redriveSubscription.ts";
import { requireSubscriptionAdmin } from "../../lib/subscriptions/requireSubscriptionAdmin.ts";
import { getRuntime } from "../shared/runtime.ts";

/** POST /subscriptions/{name}/redrive: send parked events again and move the DLQ's messages back. */
export const handler = httpHandler(getRuntime, async (request, { sql, sqs, config, source }) => {
  requireSubscriptionAdmin(request.principal);
  const name = assertSubscriptionName(request.path("name"), config.EVENTBUS_QUEUE_PREFIX);
  return json(200, await redriveSubscription(sql, sqs, name, { source }));
});
