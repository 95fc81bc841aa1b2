import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { type AddressInfo, createServer as createNetServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Context } from "aws-lambda";
import { WebSocket, WebSocketServer } from "ws";
import { limits } from "../limits.ts";
import type { WebSocketEvent, WebSocketResult } from "../realtime/wsHandler.ts";
import { type HttpReply, type PlainHttpRequest, readHttpRequests } from "./httpRequestReader.ts";
import { lambdaContext } from "./lambdaContext.ts";

export type WsLambda = (event: WebSocketEvent, context: Context) => Promise<WebSocketResult | undefined>;

export interface LocalWsRoute {
  routeKey: string;
  handler: WsLambda;
}

export interface WsGatewayOptions {
  routes: readonly LocalWsRoute[];
  /** 0 picks a free port. */
  port: number;
  host?: string;
  stage?: string;
  /** API Gateway closes a connection after 10 minutes without a message from the client. */
  idleTimeoutMs?: number;
  /** ... and any connection after 2 hours. */
  maxConnectionMs?: number;
  /** Messages in either direction are limited to 128 KB ... */
  maxMessageBytes?: number;
  /** ... and each frame of a client's message to 32 KB (a longer message must be fragmented). */
  maxFrameBytes?: number;
}

export interface RunningWsGateway {
  /** Where clients connect, e.g. `ws://127.0.0.1:4001`. */
  url: string;
  /** The `@connections` management endpoint for `ApiGatewayManagementApiClient`. */
  managementEndpoint: string;
  /** Ids of the open connections. */
  connectionIds(): string[];
  /**
   * Drops a connection without invoking `$disconnect`, as when API Gateway's best-effort `$disconnect`
   * is lost: the client's socket is destroyed and the id is unknown from then on (PostToConnection: 410).
   */
  dropWithoutDisconnect(connectionId: string): void;
  stop(): Promise<void>;
}

interface LiveConnection {
  socket: WebSocket;
  connectedAt: number;
  lastActiveAt: number;
  sourceIp: string;
  userAgent: string;
  idleTimer?: NodeJS.Timeout;
  maxTimer?: NodeJS.Timeout;
  /** Set when the gateway forgot the connection on purpose: no `$disconnect` is sent. */
  silent?: boolean;
  /** The route invocation of the frame before: frames are handed to the routes one at a time, in order. */
  previous: Promise<void>;
  /** The client sent a frame above the frame limit; the connection is closing. */
  frameTooBig?: boolean;
}

/**
 * Watches the raw bytes a client sends and calls `onTooBig` at the first frame header announcing a
 * payload above `maxFrameBytes`. `ws` itself only bounds whole messages (`maxPayload`), while API Gateway
 * also bounds each frame. Only headers are parsed; payload bytes are skipped.
 */
export function frameSizeGuard(maxFrameBytes: number, onTooBig: () => void): (chunk: Buffer) => void {
  let header: number[] = [];
  let skip = 0;
  let stopped = false;
  return (chunk) => {
    let offset = 0;
    while (!stopped && offset < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - offset);
        skip -= n;
        offset += n;
        continue;
      }
      header.push(chunk[offset++]!);
      if (header.length < 2) continue;
      const len7 = header[1]! & 0x7f;
      const extended = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
      const masked = (header[1]! & 0x80) !== 0;
      if (header.length < 2 + extended + (masked ? 4 : 0)) continue;
      let length = len7;
      if (extended > 0) {
        length = 0;
        for (let i = 0; i < extended; i++) length = length * 256 + header[2 + i]!;
      }
      header = [];
      if (length > maxFrameBytes) {
        stopped = true;
        onTooBig();
        return;
      }
      skip = length;
    }
  };
}

/** Connection ids look like API Gateway's: 12 base64 characters ending in `=`. */
const newConnectionId = () => `${randomBytes(8).toString("base64").slice(0, 11).replace(/[+/]/g, "A")}=`;

/** A first request line longer than this is handed to Node's HTTP server, which refuses it. */
const MAX_REQUEST_LINE_BYTES = 8 * 1024;

const statusText: Record<number, string> = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden" };

/**
 * A local stand-in for an API Gateway WebSocket API: a `ws` server that invokes the unmodified route
 * handlers with API Gateway-shaped events (route selection on `$request.body.action` with a `$default`
 * fallback; `$connect` may refuse the handshake with its status code), enforces API Gateway's message size,
 * idle and connection-age limits, and serves the `@connections` management API (`POST` to send, `GET`,
 * `DELETE`) on the same port, answering `410 GoneException` for unknown connections so the real
 * `@aws-sdk/client-apigatewaymanagementapi` works against it.
 */
export async function startWsGateway(options: WsGatewayOptions): Promise<RunningWsGateway> {
  const host = options.host ?? "127.0.0.1";
  const stage = options.stage ?? "local";
  const idleTimeoutMs = options.idleTimeoutMs ?? limits.webSocketIdleMs;
  const maxConnectionMs = options.maxConnectionMs ?? limits.webSocketMaxConnectionMs;
  const maxMessageBytes = options.maxMessageBytes ?? limits.maxWebSocketMessageBytes;
  const maxFrameBytes = options.maxFrameBytes ?? limits.maxWebSocketFrameBytes;
  const routes = new Map(options.routes.map((route) => [route.routeKey, route.handler]));
  const connections = new Map<string, LiveConnection>();
  const inFlight = new Set<Promise<unknown>>();
  // ws closes a connection whose message exceeds maxPayload with 1009 (message too big), as API Gateway does.
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes });
  let domainName = host;

  const track = <T>(promise: Promise<T>): Promise<T> => {
    inFlight.add(promise);
    void promise.finally(() => inFlight.delete(promise)).catch(() => {});
    return promise;
  };

  function baseContext(
    connectionId: string,
    routeKey: string,
    eventType: "CONNECT" | "MESSAGE" | "DISCONNECT",
  ) {
    const now = Date.now();
    const connection = connections.get(connectionId);
    return {
      routeKey,
      messageId: eventType === "MESSAGE" ? randomBytes(8).toString("base64") : undefined,
      eventType,
      extendedRequestId: randomUUID(),
      requestTime: new Date(now).toUTCString(),
      messageDirection: "IN" as const,
      stage,
      connectedAt: connection?.connectedAt ?? now,
      requestTimeEpoch: now,
      identity: { sourceIp: connection?.sourceIp ?? "127.0.0.1", userAgent: connection?.userAgent ?? "" },
      requestId: randomUUID(),
      domainName,
      connectionId,
      apiId: "local",
    };
  }

  async function invoke(routeKey: string, event: WebSocketEvent): Promise<WebSocketResult | undefined> {
    const handler = routes.get(routeKey);
    if (!handler) return { statusCode: 200 };
    return track(handler(event, lambdaContext("local-ws")));
  }

  function close(connectionId: string, code: number, reason: string) {
    connections.get(connectionId)?.socket.close(code, reason);
  }

  function touch(connectionId: string) {
    const connection = connections.get(connectionId);
    if (!connection) return;
    connection.lastActiveAt = Date.now();
    clearTimeout(connection.idleTimer);
    connection.idleTimer = setTimeout(() => close(connectionId, 1001, "Going away"), idleTimeoutMs);
  }

  async function onMessage(connectionId: string, data: Buffer, isBinary: boolean) {
    touch(connectionId);
    const body = data.toString(isBinary ? "base64" : "utf8");
    let routeKey = "$default";
    try {
      const action = (JSON.parse(body) as { action?: unknown } | null)?.action;
      if (typeof action === "string" && routes.has(action) && !action.startsWith("$")) routeKey = action;
    } catch {
      // not JSON: $default
    }
    const event = {
      requestContext: baseContext(connectionId, routeKey, "MESSAGE"),
      body,
      isBase64Encoded: isBinary,
    } as unknown as WebSocketEvent;
    try {
      await invoke(routeKey, event);
    } catch {
      // What API Gateway sends when the integration fails.
      const socket = connections.get(connectionId)?.socket;
      socket?.send(
        JSON.stringify({ message: "Internal server error", connectionId, requestId: randomUUID() }),
      );
    }
  }

  async function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    const url = new URL(req.url ?? "/", `http://${req.headers.host ?? host}`);
    const connectionId = newConnectionId();
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(",") : value;
    }
    const query = url.search ? Object.fromEntries(url.searchParams) : undefined;
    const event = {
      headers,
      ...(query ? { queryStringParameters: query } : {}),
      requestContext: baseContext(connectionId, "$connect", "CONNECT"),
      isBase64Encoded: false,
    } as unknown as WebSocketEvent;
    let status = 200;
    try {
      const result = await invoke("$connect", event);
      status = (result && typeof result === "object" && result.statusCode) || 200;
    } catch {
      status = 500;
    }
    if (status >= 400) {
      socket.end(
        `HTTP/1.1 ${status} ${statusText[status] ?? "Error"}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const now = Date.now();
      connections.set(connectionId, {
        socket: ws,
        connectedAt: now,
        lastActiveAt: now,
        sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
        maxTimer: setTimeout(() => close(connectionId, 1001, "Going away"), maxConnectionMs),
        previous: Promise.resolve(),
      });
      touch(connectionId);
      socket.on(
        "data",
        frameSizeGuard(maxFrameBytes, () => {
          const connection = connections.get(connectionId);
          if (connection) connection.frameTooBig = true;
          ws.close(1009, "Frame too big");
          // Whatever else the client sends is not read: the limit is broken already.
          setTimeout(() => ws.terminate(), 1000).unref();
        }),
      );
      ws.on("message", (data, isBinary) => {
        const connection = connections.get(connectionId);
        if (!connection) return;
        // One frame's route invocation after the other, so that a client's frames (its publishes, say)
        // take effect in the order it sent them. Different connections still run in parallel.
        connection.previous = connection.previous.then(() =>
          // ws may have parsed the oversized frame before the guard saw its header: it reaches no route.
          connection.frameTooBig ? undefined : onMessage(connectionId, data as Buffer, isBinary),
        );
      });
      ws.on("ping", () => touch(connectionId));
      ws.on("error", () => {});
      ws.on("close", (code, reason) => {
        const connection = connections.get(connectionId);
        if (!connection || connection.socket !== ws) return;
        clearTimeout(connection.idleTimer);
        clearTimeout(connection.maxTimer);
        connections.delete(connectionId);
        if (connection.silent) return;
        const event = {
          requestContext: {
            ...baseContext(connectionId, "$disconnect", "DISCONNECT"),
            connectedAt: connection.connectedAt,
            disconnectStatusCode: code,
            disconnectReason: reason.toString(),
          },
          isBase64Encoded: false,
        } as unknown as WebSocketEvent;
        void invoke("$disconnect", event).catch(() => {});
      });
    });
  }

  /**
   * One `@connections` request, read by `readHttpRequests` rather than Node's HTTP server: a broadcast
   * makes one of these per connection, and this is the part of the fan-out path that the raw broadcast
   * does not have.
   */
  function onManagementRequest(request: PlainHttpRequest, reply: HttpReply) {
    const { method, target } = request;
    const query = target.indexOf("?");
    const path = query === -1 ? target : target.slice(0, query);
    const marker = path.lastIndexOf("/@connections/");
    const encodedId = marker === -1 ? "" : path.slice(marker + "/@connections/".length);
    if (encodedId === "" || encodedId.includes("/")) return notFound(reply);
    let connectionId: string;
    try {
      connectionId = decodeURIComponent(encodedId);
    } catch {
      return gone(reply); // not an id API Gateway could have handed out
    }
    // A GET or DELETE sees every post that arrived before it.
    if (method !== "POST" && posts.length > 0) flushPosts();
    const connection = connections.get(connectionId);
    if (!connection || connection.socket.readyState !== WebSocket.OPEN) return gone(reply);
    if (method === "POST") {
      if (request.bodyTooLarge || request.body.length > maxMessageBytes) {
        return reply(
          413,
          { "content-type": "application/json", "x-amzn-errortype": "PayloadTooLargeException" },
          JSON.stringify({ message: "Message too long" }),
        );
      }
      posts.push({ connectionId, body: request.body, reply });
      if (posts.length === 1) setImmediate(flushPosts);
      return;
    }
    if (method === "GET") {
      return reply(
        200,
        { "content-type": "application/json" },
        JSON.stringify({
          // The wire names (the SDK maps them to ConnectedAt, Identity.SourceIp, ...).
          connectedAt: new Date(connection.connectedAt).toISOString(),
          lastActiveAt: new Date(connection.lastActiveAt).toISOString(),
          identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
        }),
      );
    }
    if (method === "DELETE") {
      // What API Gateway does for DeleteConnection: a normal closure; it cannot say why.
      connection.socket.close(1000, "Connection Closed Normally");
      return reply(204);
    }
    reply(405, { "content-type": "application/json" }, JSON.stringify({ message: "Method Not Allowed" }));
  }

  function gone(reply: HttpReply) {
    reply(
      410,
      { "content-type": "application/json", "x-amzn-errortype": "GoneException" },
      JSON.stringify({ message: null }),
    );
  }

  function notFound(reply: HttpReply) {
    reply(404, { "content-type": "application/json" }, JSON.stringify({ message: "Not Found" }));
  }

  /**
   * `PostToConnection`s received in this turn of the event loop, answered together once the turn's
   * reads are done (`setImmediate`): first every frame, then every answer. A broadcast's posts arrive on
   * many sockets at once; sent one by one as each is read, every frame woke the client process (and every
   * answer the broadcaster) on its own, and those wake-ups cost the gateway more CPU than the writes
   * themselves. Per connection the order stays the order the posts arrived in.
   */
  let posts: Array<{ connectionId: string; body: Buffer; reply: HttpReply }> = [];
  function flushPosts() {
    const batch = posts;
    posts = [];
    const answers: Array<{ reply: HttpReply; status: 200 | 410 | 500 }> = [];
    for (const { connectionId, body, reply } of batch) {
      const connection = connections.get(connectionId);
      if (!connection || connection.socket.readyState !== WebSocket.OPEN) {
        answers.push({ reply, status: 410 });
        continue;
      }
      try {
        // As a text frame, without decoding and re-encoding the UTF-8 the poster already produced.
        connection.socket.send(body, { binary: false });
        answers.push({ reply, status: 200 });
      } catch {
        // Outside the request handler's own guard: one failed send must not leave the others unanswered.
        answers.push({ reply, status: 500 });
      }
    }
    for (const { reply, status } of answers) {
      if (status === 410) gone(reply);
      else if (status === 500) {
        reply(
          500,
          { "content-type": "application/json", "x-amzn-errortype": "InternalServerErrorException" },
          JSON.stringify({ message: "Internal server error" }),
        );
      } else reply(200);
    }
  }

  // Node's HTTP server takes the WebSocket handshakes; any other request it gets is not one of ours.
  const server: Server = createServer((req, res) => {
    req.resume();
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ message: "Not Found" }));
  });
  server.on("upgrade", (req, socket, head) => {
    socket.on("error", () => {});
    onUpgrade(req, socket, head).catch(() => socket.destroy());
  });
  // One port for both, as on AWS (the callback URL is the WebSocket URL's host): the first request line
  // tells a handshake (a GET of anything but `@connections`) from a management request.
  const sockets = new Set<Socket>();
  // As Node's HTTP server does: half-open allowed (a client may end its side after its last request and
  // still get the answer), and no Nagle delay (an answer written while the previous one is unacknowledged
  // would otherwise wait for the client's delayed ACK, up to 40 ms).
  const listener = createNetServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let head: Buffer | undefined;
    const onEndUndecided = () => socket.destroy();
    socket.once("end", onEndUndecided);
    const onFirst = (chunk: Buffer) => {
      head = head ? Buffer.concat([head, chunk]) : chunk;
      const lineEnd = head.indexOf("\r\n");
      if (lineEnd === -1 && head.length < MAX_REQUEST_LINE_BYTES) return;
      socket.off("data", onFirst);
      socket.off("end", onEndUndecided);
      const line = head.toString("latin1", 0, lineEnd === -1 ? head.length : lineEnd);
      if (line.startsWith("GET ") && !line.includes("/@connections/")) {
        socket.pause();
        socket.unshift(head);
        server.emit("connection", socket);
        socket.resume();
        return;
      }
      readHttpRequests(socket, head, { maxBodyBytes: maxMessageBytes, onRequest: onManagementRequest });
    };
    socket.on("data", onFirst);
  });
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(options.port, host, () => {
      listener.off("error", reject);
      resolve();
    });
  });
  const httpUrl = `http://${host}:${(listener.address() as AddressInfo).port}`;
  domainName = httpUrl.slice("http://".length);

  return {
    url: `ws://${domainName}`,
    managementEndpoint: httpUrl,
    connectionIds: () => [...connections.keys()],
    dropWithoutDisconnect(connectionId) {
      const connection = connections.get(connectionId);
      if (!connection) return;
      connection.silent = true;
      connection.socket.terminate();
      clearTimeout(connection.idleTimer);
      clearTimeout(connection.maxTimer);
      connections.delete(connectionId);
    },
    async stop() {
      for (const connection of connections.values()) connection.socket.close(1001, "Going away");
      await new Promise((resolve) => setTimeout(resolve, 50));
      await Promise.allSettled([...inFlight]);
      for (const connection of connections.values()) connection.socket.terminate();
      wss.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}
