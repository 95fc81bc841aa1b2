import { type ErrorCode, errorStatus, isEventBusError } from "../errors.ts";

const titles: Record<ErrorCode, string> = {
  VALIDATION_FAILED: "Validation failed",
  UNAUTHORIZED: "Unauthorized",
  FORBIDDEN: "Forbidden",
  STREAM_NOT_FOUND: "Stream not found",
  SUBSCRIPTION_NOT_FOUND: "Subscription not found",
  CAPTURE_NOT_FOUND: "Capture not found",
  OPERATOR_NOT_FOUND: "Operator not found",
  ROUTE_NOT_FOUND: "Route not found",
  METHOD_NOT_ALLOWED: "Method not allowed",
  WRONG_EXPECTED_VERSION: "Wrong expected version",
  DUPLICATE_EVENT_ID: "Duplicate event id",
  SUBSCRIPTION_CONFLICT: "Subscription conflict",
  CAPTURE_CONFLICT: "Capture conflict",
  CONNECTION_GONE: "Connection gone",
  PAYLOAD_TOO_LARGE: "Payload too large",
  UNSUPPORTED_MEDIA_TYPE: "Unsupported media type",
  CAPTURE_NOT_POSSIBLE: "Capture not possible",
  RATE_LIMITED: "Too many requests",
  INTERNAL: "Internal error",
  UNAVAILABLE: "Service unavailable",
};

/** An RFC 9457 problem document. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  [member: string]: unknown;
}

/**
 * The problem document for any thrown value. Only `EventBusError`s say what went wrong; everything else is
 * an opaque 500 so that no stack, SQL or internal name reaches a client.
 */
export function toProblem(error: unknown): Problem {
  const code: ErrorCode = isEventBusError(error) ? error.code : "INTERNAL";
  const detail = isEventBusError(error) ? error.message : "The request could not be completed.";
  return {
    ...(isEventBusError(error) ? error.details : {}),
    type: `urn:eventbus:problem:${code.toLowerCase().replaceAll("_", "-")}`,
    title: titles[code],
    status: errorStatus[code],
    detail,
    code,
  };
}
