import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { readOperatorStatuses } from "../../lib/operators/readOperatorStatus.ts";
import { requireSubscriptionAdmin } from "../../lib/subscriptions/requireSubscriptionAdmin.ts";
import { getRuntime } from "../shared/runtime.ts";

/** GET /operators: every operator the listeners have loaded, with checkpoint, lag and errors. */
export const handler = httpHandler(getRuntime, async (request, { sql }) => {
  requireSubscriptionAdmin(request.principal);
  return json(200, { operators: await readOperatorStatuses(sql) });
});
