import { apiParams } from "../../lib/http/apiParams.ts";
import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { parsePathParams } from "../../lib/http/routeParams.ts";
import { assertSubscriptionName } from "../../lib/subscriptions/definition.ts";
import { getSubscription } from "../../lib/subscriptions/getSubscription.ts";
import { readSubscriptionStatus } from "../../lib/subscriptions/readSubscriptionStatus.ts";
import { requireSubscriptionAdmin } from "../../lib/subscriptions/requireSubscriptionAdmin.ts";
import { getRuntime } from "../shared/runtime.ts";

/** GET /subscriptions/{name}: definition, queues, checkpoint, head, lag, depths and owner. */
export const handler = httpHandler(getRuntime, async (request, { sql, sqs, config }) => {
  requireSubscriptionAdmin(request.principal);
  const name = assertSubscriptionName(
    parsePathParams(request, apiParams["GET /subscriptions/{name}"]).name,
    config.EVENTBUS_QUEUE_PREFIX,
  );
  const [status] = await readSubscriptionStatus(sql, sqs, [await getSubscription(sql, name)]);
  return json(200, status);
});
