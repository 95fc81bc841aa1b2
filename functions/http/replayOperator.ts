import { apiParams } from "../../lib/http/apiParams.ts";
import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { parsePathParams } from "../../lib/http/routeParams.ts";
import { parseOperatorReplay, replayOperator } from "../../lib/operators/replayOperator.ts";
import { readJsonBody } from "../../lib/subscriptions/requestBody.ts";
import { requireSubscriptionAdmin } from "../../lib/subscriptions/requireSubscriptionAdmin.ts";
import { getRuntime } from "../shared/runtime.ts";

/** POST /operators/{name}/replay `{from: "origin" | position}`: 202; the owner resets and re-applies. */
export const handler = httpHandler(getRuntime, async (request, { sql }) => {
  requireSubscriptionAdmin(request.principal);
  const { name } = parsePathParams(request, apiParams["POST /operators/{name}/replay"]);
  const from = parseOperatorReplay(readJsonBody(request));
  const checkpoint = await replayOperator(sql, name, from);
  return json(202, { name, replayAfter: checkpoint });
});
