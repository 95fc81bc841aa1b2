import { peekDeadLetters } from "../../lib/console/peekDeadLetters.ts";
import { httpHandler, intParam, json } from "../../lib/http/httpHandler.ts";
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
  const name = assertSubscriptionName(request.path("name"), config.EVENTBUS_QUEUE_PREFIX);
  const limit = intParam(request.query("limit"), "limit", { min: 1, max: 50 }) ?? 10;
  const subscription = await getSubscription(sql, name);
  return json(200, { deadLetters: await peekDeadLetters(sqs, subscription.dlqUrl, { limit }) });
});
