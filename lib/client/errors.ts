/**
 * Errors the client raises, one class per family of the server's stable `code`s (see the README's Errors
 * table), so callers can branch with `instanceof` or on `error.code`. `NETWORK` is the client's own code
 * for a server that could not be reached or answered something that is not a problem document.
 */
import { type ErrorCode, errorStatus } from "../errors.ts";

/** The server's stable error codes, plus `NETWORK` for failures before any answer arrived. */
export type ClientErrorCode = ErrorCode | "NETWORK";

/** An RFC 9457 problem document as the bus sends it. */
export interface ProblemDocument {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  [member: string]: unknown;
}

/** Any error answered by the bus (or `NETWORK` when it could not be reached). */
export class EventBusClientError extends Error {
  /** The server's stable code (`WRONG_EXPECTED_VERSION`, ...), or `NETWORK`. */
  readonly code: ClientErrorCode | (string & {});
  /** The HTTP status, or 0 when no answer arrived. */
  readonly status: number;
  /** The problem document's `detail`: what went wrong, safe to show. */
  readonly detail: string;
  /** The whole problem document (`errors`, `expectedVersion`, ... when the server adds them). */
  readonly problem: ProblemDocument;

  constructor(
    code: string,
    status: number,
    detail: string,
    problem: ProblemDocument = {},
    options?: ErrorOptions,
  ) {
    super(`${code}: ${detail}`, options);
    this.name = "EventBusClientError";
    this.code = code;
    this.status = status;
    this.detail = detail;
    this.problem = problem;
  }
}

/** 400 `VALIDATION_FAILED`; `errors` lists each problem as `{pointer, message}` when the server gives them. */
export class ValidationFailedError extends EventBusClientError {
  override readonly name = "ValidationFailedError";
  get errors(): Array<{ pointer: string; message: string }> {
    return Array.isArray(this.problem.errors)
      ? (this.problem.errors as Array<{ pointer: string; message: string }>)
      : [];
  }
}

/** 401 `UNAUTHORIZED`: no token, a bad signature, an expired token. */
export class UnauthorizedError extends EventBusClientError {
  override readonly name = "UnauthorizedError";
}

/** 403 `FORBIDDEN`: a missing scope or a stream/topic outside the token's `streams`. */
export class ForbiddenError extends EventBusClientError {
  override readonly name = "ForbiddenError";
}

/** 404: `STREAM_NOT_FOUND`, `SUBSCRIPTION_NOT_FOUND`, `CAPTURE_NOT_FOUND`, `OPERATOR_NOT_FOUND`, `ROUTE_NOT_FOUND`. */
export class NotFoundError extends EventBusClientError {
  override readonly name = "NotFoundError";
}

/** 405 `METHOD_NOT_ALLOWED`: the path exists, but not with this method. */
export class MethodNotAllowedError extends EventBusClientError {
  override readonly name = "MethodNotAllowedError";
}

/** 410 `CONNECTION_GONE`: the WebSocket connection a message was sent to no longer exists. */
export class ConnectionGoneError extends EventBusClientError {
  override readonly name = "ConnectionGoneError";
  get connectionId(): string | undefined {
    return typeof this.problem.connectionId === "string" ? this.problem.connectionId : undefined;
  }
}

/** 415 `UNSUPPORTED_MEDIA_TYPE`: a body in a content type the route does not take. */
export class UnsupportedMediaTypeError extends EventBusClientError {
  override readonly name = "UnsupportedMediaTypeError";
}

/** 409 `WRONG_EXPECTED_VERSION`, with the versions involved. */
export class WrongExpectedVersionError extends EventBusClientError {
  override readonly name = "WrongExpectedVersionError";
  get expectedVersion(): unknown {
    return this.problem.expectedVersion;
  }
  get actualVersion(): number | undefined {
    return typeof this.problem.actualVersion === "number" ? this.problem.actualVersion : undefined;
  }
}

/** 409 `DUPLICATE_EVENT_ID`, `SUBSCRIPTION_CONFLICT` or `CAPTURE_CONFLICT`. */
export class ConflictError extends EventBusClientError {
  override readonly name = "ConflictError";
}

/** 422 `CAPTURE_NOT_POSSIBLE`: the table cannot be captured; `reason` says why. */
export class CaptureNotPossibleError extends EventBusClientError {
  override readonly name = "CaptureNotPossibleError";
  get reason(): string | undefined {
    return typeof this.problem.reason === "string" ? this.problem.reason : undefined;
  }
}

/** 413 `PAYLOAD_TOO_LARGE`. */
export class PayloadTooLargeError extends EventBusClientError {
  override readonly name = "PayloadTooLargeError";
}

/** 429, 500, 503 and `NETWORK`: worth retrying later (`retryAfterSeconds` when the server said). */
export class UnavailableError extends EventBusClientError {
  override readonly name = "UnavailableError";
  /** From the `Retry-After` header, when present. */
  retryAfterSeconds: number | undefined;
}

/** The HTTP status of a server code, or 0 for `NETWORK` and codes this client does not know. */
// The server's own table (a plain module, safe in browsers): WebSocket error frames carry only the code.
export const statusForCode = (code: string): number => (errorStatus as Record<string, number>)[code] ?? 0;

type ErrorClass = new (
  code: string,
  status: number,
  detail: string,
  problem?: ProblemDocument,
  options?: ErrorOptions,
) => EventBusClientError;

const classByCode: Record<string, ErrorClass> = {
  VALIDATION_FAILED: ValidationFailedError,
  UNAUTHORIZED: UnauthorizedError,
  FORBIDDEN: ForbiddenError,
  STREAM_NOT_FOUND: NotFoundError,
  SUBSCRIPTION_NOT_FOUND: NotFoundError,
  CAPTURE_NOT_FOUND: NotFoundError,
  OPERATOR_NOT_FOUND: NotFoundError,
  ROUTE_NOT_FOUND: NotFoundError,
  METHOD_NOT_ALLOWED: MethodNotAllowedError,
  WRONG_EXPECTED_VERSION: WrongExpectedVersionError,
  DUPLICATE_EVENT_ID: ConflictError,
  SUBSCRIPTION_CONFLICT: ConflictError,
  CAPTURE_CONFLICT: ConflictError,
  CONNECTION_GONE: ConnectionGoneError,
  CAPTURE_NOT_POSSIBLE: CaptureNotPossibleError,
  PAYLOAD_TOO_LARGE: PayloadTooLargeError,
  UNSUPPORTED_MEDIA_TYPE: UnsupportedMediaTypeError,
  RATE_LIMITED: UnavailableError,
  INTERNAL: UnavailableError,
  UNAVAILABLE: UnavailableError,
  NETWORK: UnavailableError,
};

/**
 * The typed error for a code, e.g. from a problem document or a WebSocket `error` frame.
 *
 * @example
 * ```ts
 * const error = errorForCode("FORBIDDEN", 403, "Missing scope 'events:write'.");
 * error instanceof ForbiddenError; // true
 * ```
 */
export function errorForCode(
  code: string,
  status: number,
  detail: string,
  problem: ProblemDocument = {},
  options?: ErrorOptions,
): EventBusClientError {
  const ErrorType = classByCode[code] ?? EventBusClientError;
  return new ErrorType(code, status, detail, problem, options);
}

/**
 * The code an answer without a problem document stands for, by its status. Such answers come from what sits
 * in front of the bus (API Gateway's own throttling, payload limit or missing route, a proxy): the same
 * families as the bus's codes, so callers branch the same way.
 */
const codeByStatus: Record<number, ClientErrorCode> = {
  400: "VALIDATION_FAILED",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "ROUTE_NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  410: "CONNECTION_GONE",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  429: "RATE_LIMITED",
};

/** `Retry-After` in seconds: delta-seconds or an HTTP date (RFC 9110); `undefined` when absent or invalid. */
function retryAfterSeconds(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * The typed error for a non-2xx HTTP answer, whatever its body: the problem document's `code`, else the
 * status's family (`{"message":"Too Many Requests"}` from API Gateway is a `RATE_LIMITED` UnavailableError).
 */
export function errorFromResponse(
  status: number,
  body: unknown,
  retryAfter: string | null,
): EventBusClientError {
  const problem =
    typeof body === "object" && body !== null && !Array.isArray(body) ? (body as ProblemDocument) : {};
  const code =
    typeof problem.code === "string"
      ? problem.code
      : (codeByStatus[status] ?? (status >= 500 ? "UNAVAILABLE" : `HTTP_${status}`));
  // API Gateway's own answers carry `{"message": "..."}`.
  const message = typeof problem.message === "string" ? problem.message : undefined;
  const detail =
    typeof problem.detail === "string"
      ? problem.detail
      : `The server answered HTTP ${status}${message ? ` (${message})` : ""} without a problem document.`;
  const error = errorForCode(code, status, detail, problem);
  const seconds = retryAfterSeconds(retryAfter);
  if (error instanceof UnavailableError && seconds !== undefined) error.retryAfterSeconds = seconds;
  return error;
}
