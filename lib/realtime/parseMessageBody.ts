import { z } from "zod";
import { parseWith } from "../validation.ts";

export const messageBody = z.strictObject({
  data: z.unknown().refine((value) => value !== undefined, "Required"),
});

/**
 * The `data` of a `{"data": ...}` JSON body (the HTTP publish and direct-message routes).
 *
 * @throws {EventBusError} `VALIDATION_FAILED`.
 */
export function parseMessageBody(text: string): unknown {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return parseWith(messageBody, body, 'Send a JSON body {"data": ...}').data;
}
