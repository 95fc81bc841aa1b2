/**
 * Tokens for the client: a fixed string, or an async callback that returns a fresh one. The client asks the
 * callback again shortly before the current token's `exp` (read from the JWT without verifying it: the
 * server verifies; the client only needs to know when to refresh).
 */

/** A token, or a function that returns a fresh one (called again before each token expires). */
export type TokenSource = string | (() => string | Promise<string>);

/** The `exp` and `iat` claims of a JWT in milliseconds, or `undefined` when it has none or is no JWT. */
export function tokenTimes(token: string): { expiresAt: number; issuedAt: number | undefined } | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "="))) as {
      exp?: unknown;
      iat?: unknown;
    };
    if (typeof claims.exp !== "number") return undefined;
    return {
      expiresAt: claims.exp * 1000,
      issuedAt: typeof claims.iat === "number" ? claims.iat * 1000 : undefined,
    };
  } catch {
    return undefined;
  }
}

/**
 * When to ask for a fresh token: a fifth of its lifetime before `exp`, at least one second and at most a
 * minute ahead, so a one-hour token refreshes a minute early and a five-second test token one second early.
 */
export function refreshAt(token: string, leadMs?: number): number | undefined {
  const times = tokenTimes(token);
  if (!times) return undefined;
  const lifetime = times.expiresAt - (times.issuedAt ?? times.expiresAt - 60_000);
  const lead = leadMs ?? Math.min(60_000, Math.max(1000, lifetime / 5));
  return times.expiresAt - lead;
}

/** Holds the current token and refreshes it through the source when it is due. */
export class TokenKeeper {
  private current: string | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly source: TokenSource | undefined,
    private readonly leadMs?: number,
  ) {
    if (typeof source === "string") this.current = source;
  }

  /** Whether a callback can mint fresh tokens (a fixed string cannot be refreshed). */
  get refreshable(): boolean {
    return typeof this.source === "function";
  }

  /** The token to use now: the current one unless it is due for refresh (or `force`). */
  async get(force = false): Promise<string | undefined> {
    if (typeof this.source !== "function") return this.current;
    const due =
      this.current === undefined ? 0 : (refreshAt(this.current, this.leadMs) ?? Number.POSITIVE_INFINITY);
    if (!force && this.current !== undefined && Date.now() < due) return this.current;
    const source = this.source;
    this.pending ??= Promise.resolve()
      .then(() => source())
      .then((token) => {
        this.current = token;
        return token;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  /** Milliseconds until the current token should be refreshed, or `undefined` when never. */
  msUntilRefresh(): number | undefined {
    if (!this.refreshable || this.current === undefined) return undefined;
    const at = refreshAt(this.current, this.leadMs);
    return at === undefined ? undefined : Math.max(0, at - Date.now());
  }
}
