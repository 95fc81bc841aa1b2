import { EventBusError } from "../../lib/errors.ts";
import { apiParams } from "../../lib/http/apiParams.ts";
import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { parsePathParams } from "../../lib/http/routeParams.ts";
import { readOperatorStatuses } from "../../lib/operators/readOperatorStatus.ts";
import { requireSubscriptionAdmin } from "../../lib/subscriptions/requireSubscriptionAdmin.ts";
import { getRuntime } from "../shared/runtime.ts";

/** GET /operators/{name}: checkpoint, head, lag, attempts, last error and parked events. */
export const handler = httpHandler(getRuntime, async (request, { sql }) => {
  requireSubscriptionAdmin(request.principal);
  const { name } = parsePathParams(request, apiParams["GET /operators/{name}"]);
  const [operator] = await readOperatorStatuses(sql, name);
  if (!operator)
    throw new EventBusError("OPERATOR_NOT_FOUND", `Operator '${name}' does not exist.`, { name });
  return json(200, operator);
});
