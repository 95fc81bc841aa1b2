import { createHash } from "node:crypto";
import { type Dispatcher, Pool } from "undici";
import { createPostSigner } from "./postSigner.ts";

/**
 * `PostToConnection` without the SDK's per-request machinery. The SDK client spends about a millisecond of
 * CPU per call (middleware stack, serde, retry bookkeeping); a broadcast to 1,000 connections paid that a
 * thousand times, which made it 20x slower than the gateway's own broadcast. This poster signs the same
 * request the SDK would send (SigV4 for `execute-api`, byte for byte the SDK signer's; see `postSigner.ts`;
 * the same path encoding and headers) and sends it over a keep-alive pool of its own (undici: Node's
 * `http.request` cost as much CPU again as the rest of a post). It runs unchanged on Lambda.
 */
export interface ConnectionPoster {
  /** `sent`, or `gone` for `410 Gone`. Throws `PostError` for any other status, or the socket's error. */
  post(connectionId: string, data: Uint8Array): Promise<"sent" | "gone">;
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

/** The SDK's `extendedEncodeURIComponent`, which it applies to the connection id in the path. */
const encodeSegment = (value: string) =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export interface ConnectionPosterOptions {
  /** `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`, or the local gateway. */
  endpoint: string;
  region: string;
  /** The SDK client's own provider (`client.config.credentials`): resolved, cached and refreshed by it. */
  credentials: () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>;
  /** Keep-alive sockets to the endpoint, i.e. posts in flight at once. */
  maxSockets: number;
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

/** A `ConnectionPoster` for one `@connections` endpoint. */
export function createConnectionPoster(options: ConnectionPosterOptions): ConnectionPoster {
  const url = new URL(options.endpoint);
  // undici (Node's own HTTP client, also behind `fetch`): a keep-alive pool with a fraction of
  // `http.request`'s CPU per request, which at thousands of posts per broadcast is most of a post's cost.
  const pool = new Pool(url.origin, {
    connections: options.maxSockets,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  const basePath = url.pathname.replace(/\/$/, "");
  const signer = createPostSigner({
    region: options.region,
    host: url.host,
    credentials: options.credentials,
  });

  // `dispatch` with a handler of our own rather than `request`: a post needs the status and one header,
  // and `request` wraps every answer in an async resource and a body stream (a fifth of a post's CPU).
  const send = (path: string, headers: Record<string, string>, data: Uint8Array) =>
    new Promise<"sent" | "gone">((resolve, reject) => {
      pool.dispatch({ method: "POST", path, headers, body: data }, new PostHandler(resolve, reject));
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
      if (headers) return send(path, headers, data);
      return signer.sign(path, data, hash).then((signed) => send(path, signed, data));
    },
  };
}

/** Reads a `PostToConnection` answer: its status, and the error type of a failure. The body says nothing more. */
class PostHandler implements Dispatcher.DispatchHandlers {
  private status = 0;
  private errorType = "";
  constructor(
    private readonly resolve: (outcome: "sent" | "gone") => void,
    private readonly reject: (error: Error) => void,
  ) {}
  onConnect() {}
  onHeaders(status: number, rawHeaders: Buffer[] | string[] | null) {
    this.status = status;
    if ((status < 200 || status >= 300) && status !== 410 && rawHeaders) {
      for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
        if (String(rawHeaders[i]).toLowerCase() === "x-amzn-errortype")
          this.errorType = String(rawHeaders[i + 1]);
      }
    }
    return true;
  }
  onData() {
    return true;
  }
  onComplete() {
    const status = this.status;
    if (status >= 200 && status < 300) return this.resolve("sent");
    if (status === 410) return this.resolve("gone");
    this.reject(new PostError(this.errorType.split(":")[0] || `Http${status}`, status));
  }
  onError(error: Error) {
    // No complete answer (the socket failed, closed or stalled): the post may be repeated.
    this.reject(
      Object.assign(new Error(`PostToConnection got no answer: ${error.message}`), {
        code: "ECONNRESET",
        cause: error,
      }),
    );
  }
}
