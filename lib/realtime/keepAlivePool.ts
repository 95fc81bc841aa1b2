import { connect as connectTcp, type Socket } from "node:net";
import { connect as connectTls } from "node:tls";

/**
 * A minimal HTTP/1.1 client for many small requests to one origin over a pool of keep-alive sockets:
 * what `PostToConnection` needs, a request per WebSocket connection, thousands per broadcast. Node's
 * `http.request` spends about 40 µs of CPU per request in machinery this does not need (header
 * validation, the agent's bookkeeping, a parser and a response stream per request); this writes the head
 * and body in one go and reads just the status and the headers the caller asks for. It speaks plain
 * HTTP/1.1: one request at a time per socket (no pipelining), `Content-Length` or chunked response bodies,
 * or a body up to the close; `Connection: close` retires the socket.
 */
export interface KeepAlivePool {
  /**
   * Sends `head` (request line and headers, each line ending in CRLF, then an empty line) and `body`.
   * Resolves with the response's status and the headers named in `wantHeaders` (lower case); rejects with
   * a `KeepAliveError` when the socket fails, closes or stays silent before the whole response is in.
   */
  request(head: string, body: Uint8Array): Promise<PoolResponse>;
  /** Closes every socket; requests in flight fail. */
  close(): void;
}

export interface PoolResponse {
  status: number;
  headers: Record<string, string>;
}

/** A request that got no complete response: the socket failed, closed, timed out or spoke garbage. */
export class KeepAliveError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = "KeepAliveError";
  }
}

export interface KeepAlivePoolOptions {
  /** `http://` or `https://` origin; any path is ignored. */
  url: URL;
  /** Sockets open at once, i.e. requests in flight; more wait in order. */
  maxSockets: number;
  /** A request whose response has not fully arrived after this long fails (default 10 s). */
  timeoutMs?: number;
  /** Response headers to return (lower case), e.g. `x-amzn-errortype`. */
  wantHeaders?: readonly string[];
}

/** Responses are small (a status, an error type); anything this large is not a management API answer. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

interface Pending {
  head: string;
  body: Uint8Array;
  resolve: (response: PoolResponse) => void;
  reject: (error: Error) => void;
}

/** Creates a pool; sockets are opened on demand and are `unref`ed while idle. */
export function createKeepAlivePool(options: KeepAlivePoolOptions): KeepAlivePool {
  const secure = options.url.protocol === "https:";
  const host = options.url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(options.url.port || (secure ? 443 : 80));
  const timeoutMs = options.timeoutMs ?? 10_000;
  const wanted = new Set(options.wantHeaders ?? []);
  const idle: Connection[] = [];
  const all = new Set<Connection>();
  const waiting: Pending[] = [];

  class Connection {
    readonly socket: Socket;
    private current: Pending | undefined;
    private buffer = "";
    private parser: ResponseParser | undefined;

    constructor() {
      this.socket = secure
        ? connectTls({ host, port, servername: host, ALPNProtocols: ["http/1.1"] })
        : connectTcp({ host, port });
      this.socket.setNoDelay(true);
      this.socket.setEncoding("latin1");
      this.socket.on("data", (chunk: string) => this.onData(chunk));
      this.socket.on("timeout", () =>
        this.retire(new KeepAliveError(`no response within ${timeoutMs} ms`, "ETIMEDOUT")),
      );
      this.socket.on("error", (error: NodeJS.ErrnoException) =>
        this.retire(new KeepAliveError(error.message, error.code ?? "ESOCKET")),
      );
      this.socket.on("close", () => {
        // A body that runs up to the close is complete once the socket closes.
        if (this.parser?.untilClose && this.current) this.finish(this.parser.response(), false);
        else this.retire(new KeepAliveError("socket closed before the response", "ECONNRESET"));
      });
      all.add(this);
    }

    send(pending: Pending) {
      this.current = pending;
      this.buffer = "";
      this.parser = undefined;
      this.socket.ref();
      this.socket.setTimeout(timeoutMs);
      this.socket.cork();
      this.socket.write(pending.head, "latin1");
      if (pending.body.byteLength > 0) this.socket.write(pending.body);
      this.socket.uncork();
    }

    private onData(chunk: string) {
      if (!this.current) {
        this.retire(new KeepAliveError("data without a request", "EPROTO"));
        return;
      }
      this.buffer += chunk;
      if (this.buffer.length > MAX_RESPONSE_BYTES) {
        this.retire(new KeepAliveError("response too large", "EPROTO"));
        return;
      }
      let outcome: ReturnType<typeof parseResponse>;
      try {
        outcome = parseResponse(this.buffer, wanted);
      } catch (error) {
        this.retire(new KeepAliveError((error as Error).message, "EPROTO"));
        return;
      }
      this.parser = outcome;
      if (outcome.complete) this.finish(outcome.response(), outcome.keepAlive && !outcome.trailing);
    }

    private finish(response: PoolResponse, reuse: boolean) {
      const pending = this.current!;
      this.current = undefined;
      this.parser = undefined;
      this.buffer = "";
      pending.resolve(response);
      if (!reuse) {
        this.retire();
        return;
      }
      this.socket.setTimeout(0);
      const next = waiting.shift();
      if (next) this.send(next);
      else {
        this.socket.unref();
        idle.push(this);
      }
    }

    /** Takes the socket out of the pool (failing its request, if any) and lets a waiting request open another. */
    retire(error?: Error) {
      if (!all.delete(this)) return;
      const index = idle.indexOf(this);
      if (index !== -1) idle.splice(index, 1);
      const pending = this.current;
      this.current = undefined;
      this.socket.destroy();
      if (pending) pending.reject(error ?? new KeepAliveError("socket retired", "ECONNRESET"));
      const next = waiting.shift();
      if (next) dispatch(next);
    }
  }

  function dispatch(pending: Pending) {
    const connection = idle.pop();
    if (connection) connection.send(pending);
    else if (all.size < options.maxSockets) new Connection().send(pending);
    else waiting.push(pending);
  }

  return {
    request(head, body) {
      return new Promise((resolve, reject) => dispatch({ head, body, resolve, reject }));
    },
    close() {
      for (const pending of waiting.splice(0))
        pending.reject(new KeepAliveError("pool closed", "ECONNRESET"));
      for (const connection of [...all]) connection.retire(new KeepAliveError("pool closed", "ECONNRESET"));
    },
  };
}

interface ResponseParser {
  complete: boolean;
  /** No length and not chunked: the body ends when the server closes the socket. */
  untilClose: boolean;
  keepAlive: boolean;
  /** Bytes after the response: the server sent something unasked, so the socket is not reused. */
  trailing: boolean;
  response(): PoolResponse;
}

/** Parses what has arrived of one response (latin1, so one character per byte); throws on garbage. */
function parseResponse(buffer: string, wanted: ReadonlySet<string>): ResponseParser {
  let start = 0;
  for (;;) {
    const headEnd = buffer.indexOf("\r\n\r\n", start);
    if (headEnd === -1) return incomplete;
    const lines = buffer.slice(start, headEnd).split("\r\n");
    const statusLine = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0]!);
    if (!statusLine) throw new Error("not an HTTP/1.x response");
    const status = Number(statusLine[2]);
    const headers: Record<string, string> = {};
    let contentLength: number | undefined;
    let chunked = false;
    let connection = "";
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(":");
      if (colon <= 0) throw new Error("malformed response header");
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === "content-length") {
        if (!/^\d+$/.test(value)) throw new Error("malformed content-length");
        contentLength = Number(value);
      } else if (name === "transfer-encoding") chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
      else if (name === "connection") connection = value.toLowerCase();
      if (wanted.has(name)) headers[name] = value;
    }
    const bodyStart = headEnd + 4;
    // An interim response (100 Continue and the like) precedes the real one.
    if (status >= 100 && status < 200) {
      start = bodyStart;
      continue;
    }
    const keepAlive =
      statusLine[1] === "1" ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    const response = () => ({ status, headers });
    let bodyEnd: number;
    if (status === 204 || status === 304) bodyEnd = bodyStart;
    else if (chunked) {
      const end = chunkedBodyEnd(buffer, bodyStart);
      if (end === -1) return incomplete;
      bodyEnd = end;
    } else if (contentLength !== undefined) {
      bodyEnd = bodyStart + contentLength;
      if (buffer.length < bodyEnd) return incomplete;
    } else {
      return { complete: false, untilClose: true, keepAlive: false, trailing: false, response };
    }
    return { complete: true, untilClose: false, keepAlive, trailing: buffer.length > bodyEnd, response };
  }
}

const incomplete: ResponseParser = {
  complete: false,
  untilClose: false,
  keepAlive: false,
  trailing: false,
  response: () => {
    throw new Error("incomplete response");
  },
};

/** Where a chunked body (with its trailer) ends, or -1 while it has not fully arrived. */
function chunkedBodyEnd(buffer: string, from: number): number {
  let at = from;
  for (;;) {
    const lineEnd = buffer.indexOf("\r\n", at);
    if (lineEnd === -1) return -1;
    const size = Number.parseInt(buffer.slice(at, lineEnd).split(";")[0]!.trim(), 16);
    if (!Number.isFinite(size) || size < 0) throw new Error("malformed chunk size");
    if (size === 0) {
      // Trailer fields, then an empty line.
      let trailer = lineEnd + 2;
      for (;;) {
        const end = buffer.indexOf("\r\n", trailer);
        if (end === -1) return -1;
        if (end === trailer) return end + 2;
        trailer = end + 2;
      }
    }
    at = lineEnd + 2 + size + 2;
    if (buffer.length < at) return -1;
  }
}
