import type { Principal, TokenVerifier } from "../auth/token.ts";

export interface TokenCacheOptions {
  /** Most tokens remembered at once; the oldest is forgotten first (default 1,000). */
  maxEntries?: number;
  /** How long a verified token is remembered at most, in ms (default 60 s); never past its `exp`. */
  ttlMs?: number;
  /** The clock, in epoch milliseconds (tests). */
  now?: () => number;
}

/**
 * Remembers tokens that `verify` accepted, so a client sending the same bearer token with every request
 * pays for one signature check a minute instead of one per request (an HS256 check through WebCrypto
 * costs a thread-pool round trip, about as much CPU as the rest of an append's handler).
 *
 * Only accepted tokens are kept, keyed by the whole token text, so a cached answer is one `verify` gave for
 * exactly those bytes. An entry is used only before the token's `exp` (with none of the clock tolerance
 * `verify` allows) and for at most `ttlMs`, after which the token is checked again in full: a key rotated
 * out of an OIDC issuer's key set stops being honoured within that time. Refused tokens are always checked
 * in full.
 */
export function cacheVerifiedTokens(verify: TokenVerifier, options: TokenCacheOptions = {}): TokenVerifier {
  const maxEntries = options.maxEntries ?? 1000;
  const ttlMs = options.ttlMs ?? 60_000;
  const now = options.now ?? Date.now;
  // A Map iterates in insertion order: its first key is the oldest entry.
  const cache = new Map<string, { principal: Principal; until: number }>();
  return async (token) => {
    const hit = cache.get(token);
    if (hit) {
      if (now() < hit.until) return hit.principal;
      cache.delete(token);
    }
    const principal = await verify(token);
    const verifiedAt = now();
    const expiresAt = principal.expiresAt === undefined ? verifiedAt : principal.expiresAt * 1000;
    const until = Math.min(verifiedAt + ttlMs, expiresAt);
    if (until > verifiedAt) {
      if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
      cache.set(token, { principal, until });
    }
    return principal;
  };
}
