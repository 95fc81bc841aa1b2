import {
  createRemoteJWKSet,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
} from "jose";
import { EventBusError } from "../errors.ts";

/** Scopes a token may carry in its space-separated `scope` claim. `admin` implies all the others. */
export const SCOPES = [
  "events:write",
  "events:read",
  "subscriptions:manage",
  "realtime:subscribe",
  "realtime:publish",
  "admin",
] as const;
export type Scope = (typeof SCOPES)[number];

/** Who is calling, as established from a verified token. */
export interface Principal {
  subject: string;
  scopes: ReadonlySet<string>;
  /** Glob patterns bounding the stream ids and topics this token may touch; `undefined` means no bound. */
  streams: readonly string[] | undefined;
  /**
   * The token's `exp` (epoch seconds): a WebSocket connection authenticated by it is closed then. Always
   * set by the verifiers here.
   */
  expiresAt?: number;
}

export type TokenVerifier = (token: string) => Promise<Principal>;

/** The `iss` that `issueToken` writes, and what HS256 verifiers expect unless told otherwise. */
export const LOCAL_ISSUER = "eventbus";

/**
 * The longest lifetime (`exp` - `iat`, or `exp` - now without `iat`) a token may have by default. It is
 * as long as the admin token `npm run dev` prints; operators shorten it with `maxLifetimeSeconds`. Every
 * token must expire: a leaked token without `exp` would be valid forever, and a WebSocket connection
 * authenticated by it would never have to re-authenticate.
 */
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 30 * 24 * 60 * 60;

/** What a verifier demands of a token beyond its signature. */
export interface TokenPolicy {
  /** Tokens living longer than this are refused (default `DEFAULT_MAX_TOKEN_LIFETIME_SECONDS`). */
  maxLifetimeSeconds?: number;
  /** The required `iss`; HS256 verifiers default to `LOCAL_ISSUER`. */
  issuer?: string;
  /** The required `aud`, when set. */
  audience?: string;
  /** Clock skew tolerated on `exp`/`nbf`, in seconds (default 5). */
  clockToleranceSeconds?: number;
  /** The clock, in epoch milliseconds (tests). */
  now?: () => number;
}

/**
 * A verifier for HS256 tokens signed with a shared secret (local runs, or a secret from Secrets Manager).
 * Tokens must carry `exp` within the policy's maximum lifetime and the expected `iss` (and `aud` if set).
 */
export function createHs256Verifier(secret: string, policy: TokenPolicy = {}): TokenVerifier {
  const key = new TextEncoder().encode(secret);
  const resolved = { ...policy, issuer: policy.issuer ?? LOCAL_ISSUER };
  return async (token) =>
    toPrincipal(
      await verify(resolved, (options) => jwtVerify(token, key, { ...options, algorithms: ["HS256"] })),
      resolved,
    );
}

/** A verifier for tokens from an OIDC issuer, checked against its published JWKS, under the same policy. */
export function createOidcVerifier(
  options: { issuer: string; audience?: string; jwksUrl?: string } & Omit<TokenPolicy, "issuer" | "audience">,
): TokenVerifier {
  const jwksUrl = new URL(options.jwksUrl ?? `${options.issuer.replace(/\/$/, "")}/.well-known/jwks.json`);
  const keys: JWTVerifyGetKey = createRemoteJWKSet(jwksUrl);
  const policy: TokenPolicy = { ...options };
  return async (token) =>
    toPrincipal(await verify(policy, (verifyOptions) => jwtVerify(token, keys, verifyOptions)), policy);
}

async function verify(
  policy: TokenPolicy,
  run: (options: JWTVerifyOptions) => Promise<{ payload: JWTPayload }>,
): Promise<JWTPayload> {
  const now = policy.now?.() ?? Date.now();
  try {
    const result = await run({
      requiredClaims: ["exp"],
      currentDate: new Date(now),
      clockTolerance: policy.clockToleranceSeconds ?? 5,
      ...(policy.issuer === undefined ? {} : { issuer: policy.issuer }),
      ...(policy.audience === undefined ? {} : { audience: policy.audience }),
    });
    return result.payload;
  } catch (error) {
    throw new EventBusError("UNAUTHORIZED", reasonOf(error));
  }
}

/** Says which rule a refused token broke, without echoing anything from the token itself. */
function reasonOf(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return "The token has expired.";
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === "exp" && error.reason === "missing") return "The token must carry 'exp'.";
    if (error.claim === "iss") return "The token's 'iss' is not the expected issuer.";
    if (error.claim === "aud") return "The token's 'aud' is not the expected audience.";
    if (error.claim === "nbf") return "The token is not valid yet ('nbf').";
    return `The token's '${error.claim}' claim is not valid.`;
  }
  return "The token is not valid.";
}

function toPrincipal(payload: JWTPayload, policy: TokenPolicy): Principal {
  const expiresAt = payload.exp!; // required above
  const maxLifetime = policy.maxLifetimeSeconds ?? DEFAULT_MAX_TOKEN_LIFETIME_SECONDS;
  const issuedAt =
    typeof payload.iat === "number" ? payload.iat : Math.floor((policy.now?.() ?? Date.now()) / 1000);
  if (expiresAt - issuedAt > maxLifetime) {
    throw new EventBusError(
      "UNAUTHORIZED",
      `The token lives longer than the maximum of ${maxLifetime} seconds ('exp' - 'iat'); issue a shorter-lived one.`,
      { maxLifetimeSeconds: maxLifetime },
    );
  }
  const scope = typeof payload.scope === "string" ? payload.scope : "";
  const streams = payload.streams;
  if (streams !== undefined && !(Array.isArray(streams) && streams.every((s) => typeof s === "string"))) {
    throw new EventBusError("UNAUTHORIZED", "The token's 'streams' claim must be an array of strings.");
  }
  return {
    subject: payload.sub ?? "anonymous",
    scopes: new Set(scope.split(" ").filter(Boolean)),
    streams: streams as string[] | undefined,
    expiresAt,
  };
}

/** How long tokens issued by `issueToken` live unless told otherwise. */
export const DEFAULT_TOKEN_EXPIRY = "1h";

/**
 * Issues an HS256 token, for local development, tests and operators holding the shared secret. It always
 * carries `exp` (default one hour; `expiresIn` takes jose's forms: `"2h"`, `"1d"`, or epoch seconds) and
 * `iss` = `LOCAL_ISSUER` unless `issuer` is given.
 *
 * @example
 * ```ts
 * const token = await issueToken(secret, { scope: "events:write events:read", streams: ["orders-*"] });
 * ```
 */
export async function issueToken(
  secret: string,
  claims: {
    scope: string;
    streams?: string[];
    subject?: string;
    expiresIn?: string | number;
    issuer?: string;
    audience?: string;
  },
): Promise<string> {
  const jwt = new SignJWT({ scope: claims.scope, ...(claims.streams ? { streams: claims.streams } : {}) })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(claims.issuer ?? LOCAL_ISSUER)
    .setIssuedAt()
    .setSubject(claims.subject ?? "local-admin")
    .setExpirationTime(claims.expiresIn ?? DEFAULT_TOKEN_EXPIRY);
  if (claims.audience !== undefined) jwt.setAudience(claims.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}

/** Extracts the token from an `Authorization: Bearer …` header value. */
export function bearerToken(header: string | undefined): string {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  if (!match) throw new EventBusError("UNAUTHORIZED", "Send a token as 'Authorization: Bearer <JWT>'.");
  return match[1]!;
}
