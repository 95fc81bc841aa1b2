import { listParkedEvents } from "../../lib/console/listParkedEvents.ts";
import { apiParams } from "../../lib/http/apiParams.ts";
import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { parsePathParams, parseQueryParams } from "../../lib/http/routeParams.ts";
import { assertSubscriptionName } from "../../lib/subscriptions/definition.ts";
import { getSubscription } from "../../lib/subscriptions/getSubscription.ts";
import { requireSubscriptionAdmin } from "../../lib/subscriptions/requireSubscriptionAdmin.ts";
import { getRuntime } from "../shared/runtime.ts";

/**
 * GET /subscriptions/{name}/parked?after=&limit=: the events SQS refused for good, with each one's reason,
 * in position order (`next` is the cursor to pass as `after`). 404 for an unknown subscription.
 */
export const handler = httpHandler(getRuntime, async (request, { sql, config }) => {
  requireSubscriptionAdmin(request.principal);
  const params = apiParams["GET /subscriptions/{name}/parked"];
  const name = assertSubscriptionName(parsePathParams(request, params).name, config.EVENTBUS_QUEUE_PREFIX);
  const { after, limit } = parseQueryParams(request, params);
  await getSubscription(sql, name);
  return json(200, await listParkedEvents(sql, name, { limit, ...(after === undefined ? {} : { after }) }));
});
