import { readCaptureStatuses } from "../../lib/capture/readCaptureStatus.ts";
import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { requireSubscriptionAdmin } from "../../lib/subscriptions/requireSubscriptionAdmin.ts";
import { getRuntime } from "../shared/runtime.ts";

/** GET /captures: every capture with its slot's lag. */
export const handler = httpHandler(getRuntime, async (request, { sql }) => {
  requireSubscriptionAdmin(request.principal);
  return json(200, { captures: await readCaptureStatuses(sql) });
});
