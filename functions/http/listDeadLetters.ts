import { peekDeadLetters } from "../../lib/console/peekDeadLetters.ts";
import { apiParams } from "../../lib/http/apiParams.ts";
import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { parsePathParams, parseQueryParams } from "../../lib/http/routeParams.ts";
import { assertSubscriptionName } from "../../lib/subscriptions/definition.ts";
import { getSubscription } from "../../lib/subscriptions/getSubscription.ts";
import { requireSubscriptionAdmin } from "../../lib/subscriptions/requireSubscriptionAdmin.ts";
import { getRuntime } from "../shared/runtime.ts";

/**
 * GET /subscriptions/{name}/dead-letters?limit=: up to `limit` (1..50, default 10) messages of the
 * subscription's DLQ, looked at and left in place (see `peekDeadLetters`), oldest first. 404 for an
 * unknown subscription.
 */
export const handler = httpHandler(getRuntime, async (request, { sql, sqs, config }) => {
  requireSubscriptionAdmin(request.principal);
  const params = apiParams["GET /subscriptions/{name}/dead-letters"];
  const name = assertSubscriptionName(parsePathParams(request, params).name, config.EVENTBUS_QUEUE_PREFIX);
  const { limit } = parseQueryParams(request, params);
  const subscription = await getSubscription(sql, name);
  return json(200, { deadLetters: await peekDeadLetters(sqs, subscription.dlqUrl, { limit }) });
});
