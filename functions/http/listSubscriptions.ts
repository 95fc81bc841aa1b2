import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { listSubscriptions } from "../../lib/subscriptions/listSubscriptions.ts";
import { readSubscriptionStatus } from "../../lib/subscriptions/readSubscriptionStatus.ts";
import { requireSubscriptionAdmin } from "../../lib/subscriptions/requireSubscriptionAdmin.ts";
import { getRuntime } from "../shared/runtime.ts";

/** GET /subscriptions */
export const handler = httpHandler(getRuntime, async (request, { sql, sqs }) => {
  requireSubscriptionAdmin(request.principal);
  const subscriptions = await readSubscriptionStatus(sql, sqs, await listSubscriptions(sql));
  return json(200, { subscriptions });
});
