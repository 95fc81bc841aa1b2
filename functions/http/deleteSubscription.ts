import { apiParams } from "../../lib/http/apiParams.ts";
import { httpHandler } from "../../lib/http/httpHandler.ts";
import { parsePathParams } from "../../lib/http/routeParams.ts";
import { assertSubscriptionName } from "../../lib/subscriptions/definition.ts";
import { deleteSubscription } from "../../lib/subscriptions/deleteSubscription.ts";
import { requireSubscriptionAdmin } from "../../lib/subscriptions/requireSubscriptionAdmin.ts";
import { getRuntime } from "../shared/runtime.ts";

/** DELETE /subscriptions/{name}: the subscription, its checkpoint, its queue and its DLQ. */
export const handler = httpHandler(getRuntime, async (request, { sql, sqs, config }) => {
  requireSubscriptionAdmin(request.principal);
  const name = assertSubscriptionName(
    parsePathParams(request, apiParams["DELETE /subscriptions/{name}"]).name,
    config.EVENTBUS_QUEUE_PREFIX,
  );
  await deleteSubscription(sql, sqs, name);
  return { statusCode: 204 };
});
