import { validationFailed } from "../errors.ts";
import { type EventPattern, MAX_PATTERN_BYTES, validateEventPattern } from "./validatePattern.ts";

/**
 * Parses a query parameter that carries an event pattern as (URL-decoded) JSON, e.g. `GET /events?filter=`.
 * @throws {EventBusError} `VALIDATION_FAILED` naming the parameter when it is not JSON, or the JSON pointer
 * and rule (see `validateEventPattern`) when it is not a valid pattern.
 */
export function parseFilterParameter(text: string, name = "filter"): EventPattern {
  // The JSON limit plus room for whitespace: anything longer cannot be a valid pattern, so skip parsing it.
  if (text.length > 4 * MAX_PATTERN_BYTES) {
    throw validationFailed(`Query parameter '${name}' must be at most ${MAX_PATTERN_BYTES} bytes of JSON.`, {
      parameter: name,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw validationFailed(
      `Query parameter '${name}' must be an event pattern as URL-encoded JSON, e.g. {"type":["OrderPlaced"]}.`,
      { parameter: name },
    );
  }
  return validateEventPattern(value);
}
