import { requireScope } from "../../lib/auth/authorize.ts";
import { assertCaptureName } from "../../lib/capture/captureNames.ts";
import { deleteCapture } from "../../lib/capture/deleteCapture.ts";
import { httpHandler } from "../../lib/http/httpHandler.ts";
import { getRuntime } from "../shared/runtime.ts";

/** DELETE /captures/{name}: 204; with the last capture the replication slot is dropped too. */
export const handler = httpHandler(getRuntime, async (request, { sql }) => {
  requireScope(request.principal, "admin");
  await deleteCapture(sql, assertCaptureName(request.path("name")));
  return { statusCode: 204 };
});
