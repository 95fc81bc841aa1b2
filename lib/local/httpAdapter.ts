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

/** What the adapter needs of a request's URL: the host as API Gateway names it, the path and the query. */
interface RequestUrl {
  host: string;
  pathname: string;
  /** `?` and the query, or empty when there is none (as `URL.search`). */
  search: string;
}

/** Host headers already checked, with the host `URL` makes of them (clients send the same one each time). */
const checkedHosts = new Map<string, string>();

/**
 * The host of the `Host` header, as `URL` normalizes it. The header only names the API's domain; a
 * malformed one is the client's mistake, answered 400 like API Gateway's front end does, never a failure
 * of the adapter.
 */
function requestHost(header: string): string {
  const known = checkedHosts.get(header);
  if (known !== undefined) return known;
  let url: URL;
  try {
    url = new URL(`http://${header}`);
  } catch {
    throw validationFailed("The Host header is not a valid host name.", { header: "host" });
  }
  if (url.pathname !== "/" || url.search || url.hash || url.username || url.password) {
    throw validationFailed("The Host header is not a valid host name.", { header: "host" });
  }
  if (checkedHosts.size >= 100) checkedHosts.clear();
  checkedHosts.set(header, url.host);
  return url.host;
}

/**
 * A request target that `URL` would leave exactly as it is: a path (not `//`, which would name a host)
 * of characters it never escapes, no `.` or `..` segment (plain or percent-encoded) for it to resolve, and
 * a query of characters it never escapes either. Nearly every request is one; the rest go through `URL`.
 */
const PLAIN_TARGET = /^\/(?!\/)[\w\-.~!$&'()*+,;=:@%/]*(\?[\w\-.~!$&()*+,;=:@%/?]*)?$/;
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e){1,2}(?:[/?]|$)/i;

/**
 * The request's URL: its path and query as `new URL(target, "http://" + host)` gives them, without
 * building one for the plain targets nearly every request has (two `URL`s cost about as much as the rest
 * of the adapter). A request target that is not a path is answered 400.
 */
function requestUrl(req: IncomingMessage): RequestUrl {
  const host = requestHost(req.headers.host ?? "localhost");
  const target = req.url ?? "/";
  if (PLAIN_TARGET.test(target) && !DOT_SEGMENT.test(target)) {
    const question = target.indexOf("?");
    if (question === -1) return { host, pathname: target, search: "" };
    // `URL` has no search for a bare `?`.
    const search = question === target.length - 1 ? "" : target.slice(question);
    return { host, pathname: target.slice(0, question), search };
  }
  let url: URL;
  try {
    url = new URL(target, `http://${host}`);
  } catch {
    throw validationFailed("The request target is not a valid path.");
  }
  return { host, pathname: url.pathname, search: url.search };
}

/**
 * The request's body, refused beyond API Gateway's 10 MB. Read from the stream's events rather than with
 * `for await`, whose iterator costs more than the rest of the adapter on the small bodies appends send.
 */
function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_GATEWAY_BODY) {
        req.off("data", onData);
        // As `for await` did on a throw: the rest of the body is not read.
        req.destroy();
        reject(
          new EventBusError(
            "PAYLOAD_TOO_LARGE",
            `Request bodies are limited to ${limits.maxRequestBytes} bytes.`,
          ),
        );
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.once("error", reject);
    // A client gone before the end of its body (settles nothing after `end`).
    req.once("close", () => reject(new Error("The request was closed before its body ended.")));
  });
}

function toEvent(
  req: IncomingMessage,
  url: RequestUrl,
  route: CompiledRoute,
  match: RegExpMatchArray,
  body: Buffer,
) {
  const headers: Record<string, string> = {};
  const incoming = req.headers;
  for (const name in incoming) {
    const value = incoming[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(",") : value;
  }
  const requestId = randomUUID();
  const now = Date.now();
  const event: APIGatewayProxyEventV2 = {
    version: "2.0",
    routeKey: route.routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    isBase64Encoded: false,
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
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
  };
  if (route.params.length) {
    const pathParameters: Record<string, string> = {};
    for (let i = 0; i < route.params.length; i++) pathParameters[route.params[i]!] = match[i + 1]!;
    event.pathParameters = pathParameters;
  }
  if (url.search) {
    const query: Record<string, string> = {};
    for (const [name, value] of new URLSearchParams(url.search)) {
      query[name] = name in query ? `${query[name]},${value}` : value;
    }
    event.queryStringParameters = query;
  }
  if (body.length) event.body = body.toString("utf8");
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
  const headers: Record<string, string | number> = {};
  for (const name in structured.headers) headers[name] = String(structured.headers[name]);
  if (structured.body && structured.isBase64Encoded) {
    const body = Buffer.from(structured.body, "base64");
    headers["content-length"] = body.length;
    res.writeHead(structured.statusCode ?? 200, headers);
    res.end(body);
    return;
  }
  const body = structured.body ?? "";
  headers["content-length"] = Buffer.byteLength(body);
  res.writeHead(structured.statusCode ?? 200, headers);
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
  // The routes of each method, in table order: a request is matched against its own method's only.
  const byMethod = new Map<string, CompiledRoute[]>();
  for (const route of compiled) {
    if (route.method === "*") continue;
    const list = byMethod.get(route.method) ?? [];
    list.push(route);
    byMethod.set(route.method, list);
  }
  return createServer(async (req, res) => {
    try {
      const url = requestUrl(req);
      let matched: { route: CompiledRoute; match: RegExpMatchArray } | undefined;
      for (const route of byMethod.get(req.method ?? "") ?? []) {
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
