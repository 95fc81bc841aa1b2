import { readCaptureStatuses } from "../../lib/capture/readCaptureStatus.ts";
import { EventBusError } from "../../lib/errors.ts";
import { apiParams } from "../../lib/http/apiParams.ts";
import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { parsePathParams } from "../../lib/http/routeParams.ts";
import { requireSubscriptionAdmin } from "../../lib/subscriptions/requireSubscriptionAdmin.ts";
import { getRuntime } from "../shared/runtime.ts";

/** GET /captures/{name}: table, slot, confirmed and applied LSN, lag in bytes and seconds, last error. */
export const handler = httpHandler(getRuntime, async (request, { sql }) => {
  requireSubscriptionAdmin(request.principal);
  const { name } = parsePathParams(request, apiParams["GET /captures/{name}"]);
  const [capture] = await readCaptureStatuses(sql, name);
  if (!capture) throw new EventBusError("CAPTURE_NOT_FOUND", `Capture '${name}' does not exist.`, { name });
  return json(200, capture);
});
