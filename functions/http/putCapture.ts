import { requireScope } from "../../lib/auth/authorize.ts";
import { parseCaptureRequest, putCapture } from "../../lib/capture/putCapture.ts";
import { apiParams } from "../../lib/http/apiParams.ts";
import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { parsePathParams } from "../../lib/http/routeParams.ts";
import { readJsonBody } from "../../lib/subscriptions/requestBody.ts";
import { getRuntime } from "../shared/runtime.ts";

/** PUT /captures/{name} `{table, replicaIdentityFull?}`: 201 created, 200 already so, 409 different, 422 impossible. */
export const handler = httpHandler(getRuntime, async (request, { sql }) => {
  // A capture publishes a table and may change its replica identity: only an admin token may.
  requireScope(request.principal, "admin");
  const { name } = parsePathParams(request, apiParams["PUT /captures/{name}"]);
  const { created, capture } = await putCapture(sql, name, parseCaptureRequest(readJsonBody(request)));
  return json(created ? 201 : 200, capture);
});
