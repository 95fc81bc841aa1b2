import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { issueToken } from "../auth/token.ts";

/**
 * The HS256 secret `npm run dev` signs with: `EVENTBUS_JWT_SECRET`, else `.eventbus/jwt-secret` in the
 * working directory, else `undefined` (nothing is generated here: a CLI that invents a secret would mint
 * tokens no server accepts).
 */
export function localSecret(env: Record<string, string | undefined>, cwd: string): string | undefined {
  if (env.EVENTBUS_JWT_SECRET) return env.EVENTBUS_JWT_SECRET;
  const file = join(cwd, ".eventbus", "jwt-secret");
  return existsSync(file) ? readFileSync(file, "utf8").trim() : undefined;
}

/** `30s`, `15m`, `2h`, `1d`: the lifetimes `eventbus token --expires` takes. */
export const LIFETIME = /^(\d{1,9})(s|m|h|d)$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** A lifetime in seconds, or `undefined` when it is not of the form `<n>s|m|h|d`. */
export function lifetimeSeconds(value: string): number | undefined {
  const match = LIFETIME.exec(value);
  return match ? Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS] : undefined;
}

/** Mints a token signed with the local secret, as `npm run token` does. */
export function mintLocalToken(
  secret: string,
  claims: {
    scope: string;
    streams?: string[];
    subject?: string;
    expires: string;
    issuer?: string;
    audience?: string;
  },
): Promise<string> {
  return issueToken(secret, {
    scope: claims.scope,
    subject: claims.subject ?? "local-user",
    expiresIn: claims.expires,
    ...(claims.issuer === undefined ? {} : { issuer: claims.issuer }),
    ...(claims.audience === undefined ? {} : { audience: claims.audience }),
    ...(claims.streams && claims.streams.length > 0 ? { streams: claims.streams } : {}),
  });
}
