import { requireScope } from "../../lib/auth/authorize.ts";
import { deleteCapture } from "../../lib/capture/deleteCapture.ts";
import { apiParams } from "../../lib/http/apiParams.ts";
import { httpHandler } from "../../lib/http/httpHandler.ts";
import { parsePathParams } from "../../lib/http/routeParams.ts";
import { getRuntime } from "../shared/runtime.ts";

/** DELETE /captures/{name}: 204; with the last capture the replication slot is dropped too. */
export const handler = httpHandler(getRuntime, async (request, { sql }) => {
  requireScope(request.principal, "admin");
  await deleteCapture(sql, parsePathParams(request, apiParams["DELETE /captures/{name}"]).name);
  return { statusCode: 204 };
});
