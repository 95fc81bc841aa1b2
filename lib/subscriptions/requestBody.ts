import { EventBusError } from "../errors.ts";
import type { HttpRequest } from "../http/httpHandler.ts";
import { parseJsonBody } from "../text/checkJson.ts";

/**
 * The JSON body of an admin request, or `undefined` when empty.
 * @throws {EventBusError} `UNSUPPORTED_MEDIA_TYPE` for another content type, `VALIDATION_FAILED` for bad JSON.
 */
export function readJsonBody(request: HttpRequest): unknown {
  const text = request.body();
  if (text.trim() === "") return undefined;
  const contentType = request.header("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (contentType !== undefined && contentType !== "application/json") {
    throw new EventBusError("UNSUPPORTED_MEDIA_TYPE", "Send the body as application/json.", { contentType });
  }
  return parseJsonBody(text);
}
