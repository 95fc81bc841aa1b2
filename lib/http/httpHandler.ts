import { Logger } from "@aws-lambda-powertools/logger";
import middy from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { bearerToken, type Principal, type TokenVerifier } from "../auth/token.ts";
import { transientDatabaseError } from "../db/transientErrors.ts";
import { EventBusError, validationFailed } from "../errors.ts";
import { limits } from "../limits.ts";
import { printable, unstorableTextRule } from "../text/storableText.ts";
import { httpInstrumentation } from "./instrumentation.ts";
import { toProblem } from "./problem.ts";
import { parseQueryString } from "./queryString.ts";

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2;

/** What a route handler receives besides its runtime dependencies. */
export interface HttpRequest {
  event: HttpEvent;
  principal: Principal;
  /** A decoded path parameter; throws `VALIDATION_FAILED` when missing. */
  path(name: string): string;
  /** A query string parameter, or `undefined`; `VALIDATION_FAILED` when it is given more than once. */
  query(name: string): string | undefined;
  /** Every value of a repeatable query string parameter (`?type=A&type=B`), in order; empty when absent. */
  queryAll(name: string): string[];
  /** The raw body as text (base64 bodies decoded), bounded by `limits.maxRequestBytes`. */
  body(): string;
  header(name: string): string | undefined;
  /** Every header, names in lower case (as API Gateway's payload v2 sends them). */
  headers(): Readonly<Record<string, string | undefined>>;
}

const logger = new Logger({ serviceName: "eventbus-http" });

export const json = (
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): HttpResult => ({
  statusCode,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

/**
 * Turns any error into a problem+json response; logs only what is not a client error. A database timeout
 * or lost connection becomes 503 `UNAVAILABLE` with `Retry-After`.
 */
export function problemResponse(error: unknown): HttpResult {
  const problem = toProblem(transientDatabaseError(error) ?? error);
  if (problem.status >= 500) logger.error("request failed", { error: error as Error });
  const retryAfter = problem.retryAfterSeconds;
  return {
    statusCode: problem.status,
    headers: {
      "content-type": "application/problem+json",
      ...(typeof retryAfter === "number" ? { "retry-after": String(retryAfter) } : {}),
    },
    body: JSON.stringify(problem),
  };
}

/** Refuses a path or query value that Postgres could not store or compare (NUL, lone surrogates). */
function assertStorableParameter(value: string, name: string, kind: "path" | "query"): string {
  const rule = unstorableTextRule(value);
  if (rule) {
    throw validationFailed(`${kind === "path" ? "Path" : "Query"} parameter '${printable(name)}' ${rule}.`, {
      parameter: printable(name),
    });
  }
  return value;
}

/**
 * The headers with their names in lower case. API Gateway's payload v2 sends them so already; the copy is
 * made only for a name that is not, as a hand-built event (a test's, another integration's) may have one.
 */
function lowerCaseHeaders(raw: HttpEvent["headers"] | undefined): Record<string, string | undefined> {
  const headers = raw ?? {};
  for (const name in headers) {
    if (name !== name.toLowerCase()) {
      const lower: Record<string, string | undefined> = {};
      for (const key in headers) lower[key.toLowerCase()] = headers[key];
      return lower;
    }
  }
  return headers;
}

function toRequest(event: HttpEvent, principal: Principal): HttpRequest {
  let lowered: Record<string, string | undefined> | undefined;
  const headers = () => (lowered ??= lowerCaseHeaders(event.headers));
  let parsedQuery: Map<string, string[]> | undefined;
  const queryValues = (name: string): string[] => {
    parsedQuery ??= parseQueryString(event);
    return (parsedQuery.get(name) ?? []).map((value) => assertStorableParameter(value, name, "query"));
  };
  return {
    event,
    principal,
    path(name) {
      const value = event.pathParameters?.[name];
      if (value === undefined) throw validationFailed(`Missing path parameter '${name}'.`);
      let decoded: string;
      try {
        decoded = decodeURIComponent(value);
      } catch {
        throw validationFailed(`Path parameter '${name}' is not valid percent-encoding.`, {
          parameter: name,
        });
      }
      return assertStorableParameter(decoded, name, "path");
    },
    query(name) {
      const values = queryValues(name);
      if (values.length > 1) {
        throw validationFailed(`Query parameter '${name}' must be given at most once.`, { parameter: name });
      }
      return values[0];
    },
    queryAll: queryValues,
    header: (name) => headers()[name.toLowerCase()],
    headers,
    body() {
      const raw = event.body ?? "";
      const text = event.isBase64Encoded ? Buffer.from(raw, "base64").toString("utf8") : raw;
      if (Buffer.byteLength(text) > limits.maxRequestBytes) {
        throw new EventBusError(
          "PAYLOAD_TOO_LARGE",
          `Request bodies are limited to ${limits.maxRequestBytes} bytes.`,
          {
            maxRequestBytes: limits.maxRequestBytes,
          },
        );
      }
      return text;
    },
  };
}

/**
 * Wraps a route into an API Gateway HTTP API (payload v2) Lambda handler: authenticates the bearer token,
 * runs the route, and maps every error to problem+json. The runtime is resolved on first use and kept for
 * the life of the execution environment.
 */
export function httpHandler<R extends { verifyToken: TokenVerifier }>(
  getRuntime: () => Promise<R>,
  route: (request: HttpRequest, runtime: R) => Promise<HttpResult>,
) {
  const instrumentation = httpInstrumentation();
  const handler = middy<HttpEvent, HttpResult>()
    .onError(async (request) => {
      request.response = problemResponse(request.error);
    })
    .handler(async (event) => {
      const started = performance.now();
      const observe = (status: number) =>
        instrumentation?.observe(event.routeKey, status, (performance.now() - started) / 1000);
      try {
        const runtime = await getRuntime();
        const principal = await runtime.verifyToken(bearerToken(event.headers?.authorization));
        const result = await route(toRequest(event, principal), runtime);
        observe(result.statusCode ?? 200);
        return result;
      } catch (error) {
        observe(toProblem(transientDatabaseError(error) ?? error).status);
        throw error;
      }
    });
  for (const middleware of instrumentation?.middlewares ?? []) handler.use(middleware);
  return handler;
}
