import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { EventBusError, validationFailed } from "../errors.ts";
import { problemResponse } from "../http/httpHandler.ts";
import { limits } from "../limits.ts";
import { lambdaContext } from "./lambdaContext.ts";

export type HttpLambda = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2 | string | undefined | void>;

export interface LocalRoute {
  routeKey: string;
  handler: HttpLambda;
}

interface CompiledRoute extends LocalRoute {
  method: string;
  pattern: RegExp;
  params: string[];
}

/** Bodies larger than API Gateway HTTP API's 10 MB are refused before they reach a handler, as on AWS. */
const MAX_GATEWAY_BODY = 10 * 1024 * 1024;

function compile(route: LocalRoute): CompiledRoute {
  if (route.routeKey === "$default") return { ...route, method: "*", pattern: /^.*$/, params: [] };
  const [method, path] = route.routeKey.split(" ") as [string, string];
  const params: string[] = [];
  const source = path
    .split("/")
    .map((segment) => {
      const param = segment.match(/^\{(\w+)(\+)?\}$/);
      if (!param) return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      params.push(param[1]!);
      return param[2] ? "(.+)" : "([^/]+)";
    })
    .join("/");
  return { ...route, method, pattern: new RegExp(`^${source}$`), params };
}

/**
 * The request's URL. The `Host` header only names the API's domain; a malformed one (or a request target
 * that is not a path) is the client's mistake, answered 400 like API Gateway's front end does, never a
 * failure of the adapter.
 */
function requestUrl(req: IncomingMessage): URL {
  const host = req.headers.host ?? "localhost";
  let url: URL;
  try {
    url = new URL(`http://${host}`);
  } catch {
    throw validationFailed("The Host header is not a valid host name.", { header: "host" });
  }
  if (url.pathname !== "/" || url.search || url.hash || url.username || url.password) {
    throw validationFailed("The Host header is not a valid host name.", { header: "host" });
  }
  try {
    return new URL(req.url ?? "/", url);
  } catch {
    throw validationFailed("The request target is not a valid path.");
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_GATEWAY_BODY) {
      throw new EventBusError(
        "PAYLOAD_TOO_LARGE",
        `Request bodies are limited to ${limits.maxRequestBytes} bytes.`,
      );
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function toEvent(
  req: IncomingMessage,
  url: URL,
  route: CompiledRoute,
  match: RegExpMatchArray,
  body: Buffer,
) {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(",") : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams)
    query[name] = name in query ? `${query[name]},${value}` : value;
  const pathParameters = Object.fromEntries(route.params.map((name, i) => [name, match[i + 1]!]));
  const requestId = randomUUID();
  const now = new Date();
  const event: APIGatewayProxyEventV2 = {
    version: "2.0",
    routeKey: route.routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(route.params.length ? { pathParameters } : {}),
    ...(url.search ? { queryStringParameters: query } : {}),
    ...(body.length ? { body: body.toString("utf8"), isBase64Encoded: false } : { isBase64Encoded: false }),
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName: url.host,
      domainPrefix: "local",
      http: {
        method: req.method ?? "GET",
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId,
      routeKey: route.routeKey,
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
  };
  return { event, requestId };
}

function send(res: ServerResponse, result: APIGatewayProxyStructuredResultV2 | string | undefined | void) {
  const structured: APIGatewayProxyStructuredResultV2 =
    typeof result === "object" && result !== null && "statusCode" in result
      ? result
      : {
          statusCode: 200,
          headers: { "content-type": "application/json" },
          body: JSON.stringify(result ?? null),
        };
  const body = structured.body
    ? Buffer.from(structured.body, structured.isBase64Encoded ? "base64" : "utf8")
    : Buffer.alloc(0);
  res.writeHead(structured.statusCode ?? 200, { ...structured.headers, "content-length": body.length });
  res.end(body);
}

/**
 * A local stand-in for API Gateway HTTP API (payload format 2.0): matches each request against the route
 * table, builds the same event API Gateway would, invokes the unmodified Lambda handler and writes its
 * result back. Used by `npm run dev` and by the HTTP tests.
 */
export function createHttpAdapter(
  routes: readonly LocalRoute[],
  options: {
    /** Called after each routed request with its route key, status and handler time (for `/metrics`). */
    observe?: (routeKey: string, status: number, seconds: number) => void;
  } = {},
): Server {
  const compiled = routes.map(compile);
  const fallback = compiled.find((r) => r.method === "*");
  return createServer(async (req, res) => {
    try {
      const url = requestUrl(req);
      let matched: { route: CompiledRoute; match: RegExpMatchArray } | undefined;
      for (const route of compiled) {
        if (route.method !== req.method) continue;
        const match = url.pathname.match(route.pattern);
        if (match) {
          matched = { route, match };
          break;
        }
      }
      if (!matched && fallback) matched = { route: fallback, match: url.pathname.match(fallback.pattern)! };
      if (!matched) throw new EventBusError("ROUTE_NOT_FOUND", `No route for ${req.method} ${url.pathname}.`);
      const body = await readBody(req);
      const { event, requestId } = toEvent(req, url, matched.route, matched.match, body);
      const started = performance.now();
      const result = await matched.route.handler(event, lambdaContext("local-http", requestId));
      if (options.observe) {
        const status = typeof result === "object" && result !== null ? (result.statusCode ?? 200) : 200;
        options.observe(matched.route.routeKey, status, (performance.now() - started) / 1000);
      }
      send(res, result);
    } catch (error) {
      send(res, problemResponse(error));
    }
  });
}

/** Starts a server on `port` (0 for any free one) on loopback and resolves with its base URL. */
export async function listen(server: Server, port: number, host = "127.0.0.1"): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return `http://${host}:${address.port}`;
}
