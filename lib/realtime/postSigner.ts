import crypto, {
  createHash,
  createHmac,
  createSecretKey,
  type Hash,
  type Hmac,
  type KeyObject,
} from "node:crypto";
import { createScope, getSigningKey } from "@smithy/signature-v4";

/**
 * SigV4 for `PostToConnection` requests, header for header what the SDK's `SignatureV4` (service
 * `execute-api`, `uriEscapePath`) produces for them (`test/realtime/postSigner.test.ts` compares the two on
 * random inputs). The SDK's signer is general: a dozen awaits, three hash objects, header sorting and an
 * HMAC of the credentials to look up its key cache, about 50 µs of CPU per request, more than the rest of a
 * post together. Every post of a broadcast has the same method, headers and body and differs only in the
 * connection id of its path, so this signer keeps what does not change and computes, per request, one
 * SHA-256 of the canonical request and one HMAC (about 8 µs). The signing key itself still comes from the
 * SDK (`getSigningKey`), once per day and set of credentials.
 */
export interface PostSigner {
  /** The headers to send with a `POST` of `data` (whose SHA-256 is `payloadHash`) to `path`. */
  sign(path: string, data: Uint8Array, payloadHash: string): Promise<Record<string, string>>;
  /**
   * The same headers without waiting, from the credentials and signing key the last `sign` used if that
   * was less than a second ago (nearly every post of a broadcast); `undefined` otherwise: then `sign`.
   */
  signNow(path: string, data: Uint8Array, payloadHash: string): Record<string, string> | undefined;
}

type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
/** How long `signNow` reuses the provider's last answer. */
const CREDENTIALS_REUSE_MS = 1000;

export interface PostSignerOptions {
  region: string;
  /** `host[:port]` as sent in the `host` header. */
  host: string;
  /** The SDK client's own provider: resolved, cached and refreshed by it. */
  credentials: () => Promise<Credentials>;
}

const SERVICE = "execute-api";
const ALGORITHM = "AWS4-HMAC-SHA256";

type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === "string"
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);

/** Node's hashes behind the `Checksum` interface the SDK's signing functions expect. */
export class Sha256 {
  private hash: Hash | Hmac;
  private readonly secret: string | Uint8Array | undefined;
  constructor(secret?: SourceData) {
    this.secret = secret === undefined ? undefined : bytes(secret);
    this.hash = this.secret === undefined ? createHash("sha256") : createHmac("sha256", this.secret);
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.secret === undefined ? createHash("sha256") : createHmac("sha256", this.secret);
  }
}

/** The SDK's `escapeUri`: `encodeURIComponent` plus the characters RFC 3986 reserves that it leaves. */
const escapeUri = (value: string) =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The SDK's canonical path with `uriEscapePath`: dot segments resolved, then every segment escaped again. */
export function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") segments.pop();
    else segments.push(segment);
  }
  const normalized = `${path.startsWith("/") ? "/" : ""}${segments.join("/")}${segments.length > 0 && path.endsWith("/") ? "/" : ""}`;
  return escapeUri(normalized).replace(/%2F/g, "/");
}

/**
 * SHA-256 in hex. `crypto.hash` (Node 20.12 and later, so every Lambda runtime) hashes in one call, without
 * the `Hash` object `createHash` makes: a few µs per post.
 */
const sha256Hex: (text: string) => string =
  typeof crypto.hash === "function"
    ? (text) => crypto.hash("sha256", text, "hex")
    : (text) => createHash("sha256").update(text).digest("hex");

/** `x-amz-date` changes once a second; formatting it for every post would cost as much as the hash. */
let dateSecond = -1;
let dates = { longDate: "", shortDate: "" };
function amzDates(now: number) {
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    const longDate = new Date(second * 1000)
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z")
      .replace(/[-:]/g, "");
    dates = { longDate, shortDate: longDate.slice(0, 8) };
    dateSecond = second;
  }
  return dates;
}

/**
 * A `PostSigner` for one endpoint.
 *
 * @example
 * const signer = createPostSigner({ region: "eu-west-1", host: url.host, credentials: () => api.config.credentials() });
 * const headers = await signer.sign("/prod/@connections/abc%3D", body, sha256Hex(body));
 */
export function createPostSigner(options: PostSignerOptions): PostSigner {
  const { region, host } = options;
  // The posts of a broadcast share their path up to the connection id: its canonical form is computed
  // once, and only the last segment is escaped per post (unless it is a dot segment).
  let prefix = "";
  let canonicalPrefix = "";
  const canonical = (path: string) => {
    const slash = path.lastIndexOf("/");
    const last = path.slice(slash + 1);
    if (slash <= 0 || last === "" || last === "." || last === "..") return canonicalPath(path);
    const head = path.slice(0, slash);
    if (head !== prefix) {
      prefix = head;
      canonicalPrefix = canonicalPath(`${head}/`);
    }
    return `${canonicalPrefix}${escapeUri(last)}`;
  };
  // Per set of credentials (the provider returns a new object when it refreshes them): the signing key
  // of the day.
  const keys = new WeakMap<object, { shortDate: string; key: KeyObject }>();
  // The provider's last answer: asked again after a second, so that a refresh it makes (it renews
  // credentials minutes before they expire) is picked up, yet not once per post.
  let latest: { credentials: Credentials; fetchedAt: number } | undefined;

  const headersFor = (
    credentials: Credentials,
    key: KeyObject,
    now: number,
    path: string,
    data: Uint8Array,
    payloadHash: string,
  ): Record<string, string> => {
    const { longDate, shortDate } = amzDates(now);
    const token = credentials.sessionToken;
    const length = String(data.byteLength);
    // Lower-case names in sorted order, as the canonical request lists them.
    const signedHeaders = token
      ? "content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token"
      : "content-length;content-type;host;x-amz-content-sha256;x-amz-date";
    const canonicalRequest = `POST\n${canonical(path)}\n\ncontent-length:${length}\ncontent-type:application/octet-stream\nhost:${host}\nx-amz-content-sha256:${payloadHash}\nx-amz-date:${longDate}\n${token ? `x-amz-security-token:${token}\n` : ""}\n${signedHeaders}\n${payloadHash}`;
    const scope = createScope(shortDate, region, SERVICE);
    const stringToSign = `${ALGORITHM}\n${longDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
    const signature = createHmac("sha256", key).update(stringToSign).digest("hex");
    return {
      host,
      "content-type": "application/octet-stream",
      "content-length": length,
      "x-amz-content-sha256": payloadHash,
      "x-amz-date": longDate,
      ...(token ? { "x-amz-security-token": token } : {}),
      authorization: `${ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
    };
  };

  return {
    async sign(path, data, payloadHash) {
      const credentials = await options.credentials();
      const now = Date.now();
      latest = { credentials, fetchedAt: now };
      const { shortDate } = amzDates(now);
      let signing = keys.get(credentials);
      if (signing?.shortDate !== shortDate) {
        signing = {
          shortDate,
          key: createSecretKey(await getSigningKey(Sha256, credentials, shortDate, region, SERVICE)),
        };
        keys.set(credentials, signing);
      }
      return headersFor(credentials, signing.key, now, path, data, payloadHash);
    },
    signNow(path, data, payloadHash) {
      const now = Date.now();
      if (!latest || now - latest.fetchedAt >= CREDENTIALS_REUSE_MS) return undefined;
      const signing = keys.get(latest.credentials);
      if (signing?.shortDate !== amzDates(now).shortDate) return undefined;
      return headersFor(latest.credentials, signing.key, now, path, data, payloadHash);
    },
  };
}
