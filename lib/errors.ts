/**
 * The closed set of errors the bus reports to clients. Each carries a stable `code` and the HTTP status it
 * maps to; the HTTP and WebSocket edges turn them into problem+json or error frames. Anything that is not an
 * `EventBusError` is internal and is reported as a bare 500 without detail.
 */
export const errorStatus = {
  VALIDATION_FAILED: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  STREAM_NOT_FOUND: 404,
  SUBSCRIPTION_NOT_FOUND: 404,
  CAPTURE_NOT_FOUND: 404,
  OPERATOR_NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  WRONG_EXPECTED_VERSION: 409,
  DUPLICATE_EVENT_ID: 409,
  SUBSCRIPTION_CONFLICT: 409,
  CAPTURE_CONFLICT: 409,
  CONNECTION_GONE: 410,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  CAPTURE_NOT_POSSIBLE: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof errorStatus;

/** An error whose message is safe to show to a client. */
export class EventBusError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra, client-safe members for the problem document (e.g. expected and actual versions). */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(message, options);
    this.name = "EventBusError";
    this.code = code;
    this.status = errorStatus[code];
    this.details = details;
  }
}

export const validationFailed = (message: string, details?: Record<string, unknown>) =>
  new EventBusError("VALIDATION_FAILED", message, details);

export class WrongExpectedVersionError extends EventBusError {
  constructor(streamId: string, expected: string | number, actual: number) {
    super("WRONG_EXPECTED_VERSION", `Stream '${streamId}' is at version ${actual}, expected ${expected}.`, {
      streamId,
      expectedVersion: expected,
      actualVersion: actual,
    });
    this.name = "WrongExpectedVersionError";
  }
}

export const isEventBusError = (error: unknown): error is EventBusError => error instanceof EventBusError;
