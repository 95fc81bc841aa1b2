import { createHash } from "node:crypto";
import { connect as connectTcp, type Socket } from "node:net";
import { connect as connectTls } from "node:tls";
import { createPostSigner } from "./postSigner.ts";

/**
 * `PostToConnection` without the SDK's per-request machinery. The SDK client spends about a millisecond of
 * CPU per call (middleware stack, serde, retry bookkeeping); a broadcast to 1,000 connections paid that a
 * thousand times, which made it 20x slower than the gateway's own broadcast. This poster signs the same
 * request the SDK would send (SigV4 for `execute-api`, byte for byte the SDK signer's; see `postSigner.ts`;
 * the same path encoding and headers) and sends it over keep-alive HTTP/1.1 connections of its own (see
 * `PostConnection`). It runs unchanged on Lambda (TLS for `https:` endpoints).
 */
export interface ConnectionPoster {
  /** `sent`, or `gone` for `410 Gone`. Throws `PostError` for any other status, or the socket's error. */
  post(connectionId: string, data: Uint8Array): Promise<"sent" | "gone">;
  /** Closes the poster's connections; posts still waiting fail. */
  close(): void;
}

/** A failed post, shaped like the SDK's service exceptions (`name`, `$metadata.httpStatusCode`). */
export class PostError extends Error {
  readonly $metadata: { httpStatusCode: number };
  constructor(name: string, status: number) {
    super(`PostToConnection answered ${status} ${name}`);
    this.name = name;
    this.$metadata = { httpStatusCode: status };
  }
}

/** No complete answer (the socket failed, closed or stalled): the post may be repeated. */
const noAnswer = (reason: string, cause?: unknown): Error =>
  Object.assign(new Error(`PostToConnection got no answer: ${reason}`), {
    code: "ECONNRESET",
    ...(cause === undefined ? {} : { cause }),
  });

/** The SDK's `extendedEncodeURIComponent`, which it applies to the connection id in the path. */
const encodeSegment = (value: string) =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export interface ConnectionPosterOptions {
  /** `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`, or the local gateway. */
  endpoint: string;
  region: string;
  /** The SDK client's own provider (`client.config.credentials`): resolved, cached and refreshed by it. */
  credentials: () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>;
  /** Keep-alive connections to the endpoint, i.e. posts in flight at once. */
  maxSockets: number;
  /** A post without a complete answer after this long fails (transiently). Default 10 s. */
  timeoutMs?: number;
  /** A connection idle for longer is not reused (the server may have closed it meanwhile). Default 30 s. */
  keepAliveMs?: number;
}

/**
 * SHA-256 of each body, computed once: a frame broadcast to 1,000 connections is the same `Uint8Array`
 * for all of them (see `postFrame`), and hashing a 128 KB frame 1,000 times would cost more than posting.
 */
const payloadHashes = new WeakMap<Uint8Array, string>();
const payloadHash = (data: Uint8Array): string => {
  let hash = payloadHashes.get(data);
  if (hash === undefined) {
    hash = createHash("sha256").update(data).digest("hex");
    payloadHashes.set(data, hash);
  }
  return hash;
};

interface Post {
  request: Buffer;
  resolve: (outcome: "sent" | "gone") => void;
  reject: (error: Error) => void;
}

/** A `ConnectionPoster` for one `@connections` endpoint. */
export function createConnectionPoster(options: ConnectionPosterOptions): ConnectionPoster {
  const url = new URL(options.endpoint);
  const tls = url.protocol === "https:";
  const port = Number(url.port) || (tls ? 443 : 80);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const keepAliveMs = options.keepAliveMs ?? 30_000;
  const basePath = url.pathname.replace(/\/$/, "");
  const signer = createPostSigner({
    region: options.region,
    host: url.host,
    credentials: options.credentials,
  });

  const idle: PostConnection[] = [];
  const open = new Set<PostConnection>();
  const waiting: Post[] = [];
  let waitingHead = 0;
  let closed = false;
  // One timer for all connections rather than one per post: it fails posts that got no answer in time.
  let watchdog: NodeJS.Timeout | undefined;
  const watch = () => {
    const now = Date.now();
    for (const connection of open) connection.expireIfStalled(now, timeoutMs);
    if (open.size === 0) {
      clearInterval(watchdog);
      watchdog = undefined;
    }
  };

  const openConnection = (): PostConnection => {
    const socket = tls
      ? connectTls({ host: url.hostname, port, servername: url.hostname, ALPNProtocols: ["http/1.1"] })
      : connectTcp({ host: url.hostname, port });
    const connection = new PostConnection(socket, {
      onIdle: (self) => {
        const next = takeWaiting();
        if (next) self.send(next);
        else idle.push(self);
      },
      onClosed: (self) => {
        open.delete(self);
        const at = idle.indexOf(self);
        if (at !== -1) idle.splice(at, 1);
        // A post waiting for a free connection gets a new one.
        if (waitingHead < waiting.length && open.size < options.maxSockets && !closed) {
          openConnection().send(takeWaiting()!);
        }
      },
    });
    open.add(connection);
    watchdog ??= setInterval(watch, Math.min(1000, timeoutMs)).unref();
    return connection;
  };

  const takeWaiting = (): Post | undefined => {
    if (waitingHead >= waiting.length) return undefined;
    const post = waiting[waitingHead]!;
    waiting[waitingHead++] = undefined as never;
    if (waitingHead === waiting.length) {
      waiting.length = 0;
      waitingHead = 0;
    }
    return post;
  };

  const send = (post: Post) => {
    if (closed) return post.reject(noAnswer("the poster is closed"));
    const now = Date.now();
    for (let connection = idle.pop(); connection; connection = idle.pop()) {
      // Possibly closed by the server while idle (API Gateway's idle timeout; a Lambda frozen for minutes).
      if (now - connection.idleSince < keepAliveMs) return connection.send(post);
      connection.destroy();
    }
    if (open.size < options.maxSockets) return openConnection().send(post);
    waiting.push(post);
  };

  const dispatch = (path: string, headers: Record<string, string>, data: Uint8Array) =>
    new Promise<"sent" | "gone">((resolve, reject) => {
      send({ request: encodeRequest(path, headers, data), resolve, reject });
    });

  return {
    post(connectionId, data) {
      const path = `${basePath}/@connections/${encodeSegment(connectionId)}`;
      let hash: string;
      let headers: Record<string, string> | undefined;
      try {
        hash = payloadHash(data);
        headers = signer.signNow(path, data, hash);
      } catch (error) {
        return Promise.reject(error); // callers chain `.catch`: never throw synchronously
      }
      if (headers) return dispatch(path, headers, data);
      return signer.sign(path, data, hash).then((signed) => dispatch(path, signed, data));
    },
    close() {
      closed = true;
      for (let post = takeWaiting(); post; post = takeWaiting()) post.reject(noAnswer("the poster closed"));
      for (const connection of [...open]) connection.destroy();
    },
  };
}

/**
 * The request line, headers and body in one buffer, so that a post is one `write` system call (two
 * buffers would be a `writev` with its own bookkeeping). Every name and value is ASCII: the signer's
 * output and a percent-encoded path.
 */
function encodeRequest(path: string, headers: Record<string, string>, data: Uint8Array): Buffer {
  let head = `POST ${path} HTTP/1.1\r\n`;
  for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
  head += "\r\n";
  const request = Buffer.allocUnsafe(head.length + data.byteLength);
  request.write(head, 0, "latin1");
  request.set(data, head.length);
  return request;
}

const CRLF = Buffer.from("\r\n");
const CRLF2 = Buffer.from("\r\n\r\n");
/** Longest answer head accepted (API Gateway's are a few hundred bytes). */
const MAX_HEAD_BYTES = 64 * 1024;

/** Where the parser is in the answer to the post in flight. */
enum Phase {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  Trailers,
  UntilClose,
}

/**
 * One keep-alive HTTP/1.1 connection carrying one post at a time, with a parser for exactly what a
 * `PostToConnection` answer needs: the status, `x-amzn-errortype`, and the body's framing (length,
 * chunked, or until close) so that the next answer starts where this one ends. Why not undici, which this
 * replaced: its request object, header validation, timers and dispatcher layers cost about as much CPU
 * per post as the system calls; a post here costs one `write`, one `read` and a few string operations.
 */
class PostConnection {
  idleSince = 0;
  private current: Post | undefined;
  private startedAt = 0;
  private phase = Phase.Head;
  private carry: Buffer | undefined;
  private status = 0;
  private errorType = "";
  private remaining = 0;
  private closeAfter = false;
  private ended = false;

  constructor(
    private readonly socket: Socket,
    private readonly pool: {
      onIdle: (connection: PostConnection) => void;
      onClosed: (connection: PostConnection) => void;
    },
  ) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (error) => this.fail(noAnswer(error.message, error)));
    socket.on("end", () => {
      if (this.phase === Phase.UntilClose && this.current) this.complete();
    });
    socket.on("close", () => {
      this.ended = true;
      this.fail(noAnswer("the connection closed"));
      this.pool.onClosed(this);
    });
  }

  send(post: Post) {
    this.current = post;
    this.startedAt = Date.now();
    this.phase = Phase.Head;
    this.status = 0;
    this.errorType = "";
    this.closeAfter = false;
    this.socket.write(post.request);
  }

  destroy() {
    this.socket.destroy();
  }

  expireIfStalled(now: number, timeoutMs: number) {
    if (this.current && now - this.startedAt >= timeoutMs) {
      this.fail(noAnswer(`no answer within ${timeoutMs} ms`));
      this.socket.destroy();
    }
  }

  private fail(error: Error) {
    const post = this.current;
    this.current = undefined;
    post?.reject(error);
  }

  private protocolError(reason: string) {
    this.fail(noAnswer(reason));
    this.socket.destroy();
  }

  private onData(chunk: Buffer) {
    let data = chunk;
    if (this.carry) {
      // The rest of a head or a chunk-size line that a read split (rare).
      data = Buffer.concat([this.carry, chunk]);
      this.carry = undefined;
    }
    let offset = 0;
    while (offset < data.length) {
      if (!this.current) {
        // Bytes nobody asked for: the connection cannot be trusted to frame the next answer.
        this.socket.destroy();
        return;
      }
      switch (this.phase) {
        case Phase.Head: {
          const end = data.indexOf(CRLF2, offset);
          if (end === -1) return this.keep(data, offset);
          if (!this.readHead(data.toString("latin1", offset, end))) return;
          offset = end + 4;
          break;
        }
        case Phase.Length: {
          const n = Math.min(this.remaining, data.length - offset);
          this.remaining -= n;
          offset += n;
          if (this.remaining === 0) this.complete();
          break;
        }
        case Phase.ChunkSize:
        case Phase.Trailers: {
          const end = data.indexOf(CRLF, offset);
          if (end === -1) return this.keep(data, offset);
          const line = data.toString("latin1", offset, end);
          offset = end + 2;
          if (this.phase === Phase.Trailers) {
            if (line === "") this.complete();
            break;
          }
          const size = Number.parseInt(line, 16); // chunk extensions after `;` are ignored
          if (!(size >= 0)) return this.protocolError("bad chunk size");
          if (size === 0) this.phase = Phase.Trailers;
          else {
            this.remaining = size + 2; // the chunk and its CRLF
            this.phase = Phase.ChunkData;
          }
          break;
        }
        case Phase.ChunkData: {
          const n = Math.min(this.remaining, data.length - offset);
          this.remaining -= n;
          offset += n;
          if (this.remaining === 0) this.phase = Phase.ChunkSize;
          break;
        }
        case Phase.UntilClose:
          offset = data.length;
          break;
      }
    }
  }

  /** Keeps the unfinished line or head for the next read. */
  private keep(data: Buffer, offset: number) {
    if (data.length - offset > MAX_HEAD_BYTES) return this.protocolError("answer head too long");
    this.carry = Buffer.from(data.subarray(offset));
  }

  /** Reads the status line and headers; returns false when the connection was given up. */
  private readHead(head: string): boolean {
    const lines = head.split("\r\n");
    const statusLine = lines[0]!;
    const status = Number(statusLine.slice(9, 12));
    if (!statusLine.startsWith("HTTP/1.") || !Number.isInteger(status) || status < 100) {
      this.protocolError("not an HTTP/1.x answer");
      return false;
    }
    if (status < 200) return true; // `100 Continue` and the like: the real answer follows
    this.status = status;
    this.closeAfter = statusLine.startsWith("HTTP/1.0");
    let length = -1;
    let chunked = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === "content-length") length = Number(value);
      else if (name === "transfer-encoding") chunked = value.toLowerCase().includes("chunked");
      else if (name === "connection") {
        const tokens = value.toLowerCase();
        if (tokens.includes("close")) this.closeAfter = true;
        else if (tokens.includes("keep-alive")) this.closeAfter = false;
      } else if (name === "x-amzn-errortype") this.errorType = value;
    }
    if (status === 204 || status === 304) {
      this.complete();
    } else if (chunked) {
      this.phase = Phase.ChunkSize;
    } else if (length >= 0 && Number.isSafeInteger(length)) {
      this.remaining = length;
      this.phase = Phase.Length;
      if (length === 0) this.complete();
    } else {
      this.phase = Phase.UntilClose;
      this.closeAfter = true;
    }
    return true;
  }

  private complete() {
    const post = this.current!;
    this.current = undefined;
    this.phase = Phase.Head;
    const status = this.status;
    if (status >= 200 && status < 300) post.resolve("sent");
    else if (status === 410) post.resolve("gone");
    else post.reject(new PostError(this.errorType.split(":")[0] || `Http${status}`, status));
    if (this.closeAfter || this.ended) {
      this.socket.destroy();
      return;
    }
    this.idleSince = Date.now();
    this.pool.onIdle(this);
  }
}
