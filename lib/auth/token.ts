import {
  createRemoteJWKSet,
  type JWTPayload,
  type JWTVerifyGetKey,
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
}

export type TokenVerifier = (token: string) => Promise<Principal>;

const ISSUER = "eventbus";

/** A verifier for HS256 tokens signed with a shared secret (local runs, or a secret from Secrets Manager). */
export function createHs256Verifier(secret: string): TokenVerifier {
  const key = new TextEncoder().encode(secret);
  return async (token) => toPrincipal(await verify(() => jwtVerify(token, key, { algorithms: ["HS256"] })));
}

/** A verifier for tokens from an OIDC issuer, checked against its published JWKS. */
export function createOidcVerifier(options: {
  issuer: string;
  audience?: string;
  jwksUrl?: string;
}): TokenVerifier {
  const jwksUrl = new URL(options.jwksUrl ?? `${options.issuer.replace(/\/$/, "")}/.well-known/jwks.json`);
  const keys: JWTVerifyGetKey = createRemoteJWKSet(jwksUrl);
  return async (token) =>
    toPrincipal(
      await verify(() =>
        jwtVerify(token, keys, {
          issuer: options.issuer,
          ...(options.audience === undefined ? {} : { audience: options.audience }),
        }),
      ),
    );
}

async function verify(run: () => Promise<{ payload: JWTPayload }>): Promise<JWTPayload> {
  try {
    return (await run()).payload;
  } catch (error) {
    const reason =
      error instanceof joseErrors.JWTExpired ? "The token has expired." : "The token is not valid.";
    throw new EventBusError("UNAUTHORIZED", reason);
  }
}

function toPrincipal(payload: JWTPayload): Principal {
  const scope = typeof payload.scope === "string" ? payload.scope : "";
  const streams = payload.streams;
  if (streams !== undefined && !(Array.isArray(streams) && streams.every((s) => typeof s === "string"))) {
    throw new EventBusError("UNAUTHORIZED", "The token's 'streams' claim must be an array of strings.");
  }
  return {
    subject: payload.sub ?? "anonymous",
    scopes: new Set(scope.split(" ").filter(Boolean)),
    streams: streams as string[] | undefined,
  };
}

/**
 * Issues an HS256 token, for local development, tests and operators holding the shared secret.
 *
 * @example
 * ```ts
 * const token = await issueToken(secret, { scope: "events:write events:read", streams: ["orders-*"] });
 * ```
 */
export async function issueToken(
  secret: string,
  claims: { scope: string; streams?: string[]; subject?: string; expiresIn?: string | number },
): Promise<string> {
  const jwt = new SignJWT({ scope: claims.scope, ...(claims.streams ? { streams: claims.streams } : {}) })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(ISSUER)
    .setIssuedAt()
    .setSubject(claims.subject ?? "local-admin");
  if (claims.expiresIn !== undefined) jwt.setExpirationTime(claims.expiresIn);
  return jwt.sign(new TextEncoder().encode(secret));
}

/** Extracts the token from an `Authorization: Bearer …` header value. */
export function bearerToken(header: string | undefined): string {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  if (!match) throw new EventBusError("UNAUTHORIZED", "Send a token as 'Authorization: Bearer <JWT>'.");
  return match[1]!;
}
