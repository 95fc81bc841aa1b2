import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** Where `npm run dev` keeps its state: the embedded Postgres data and the generated JWT secret. */
export const stateDir = (root = process.cwd()) => resolve(root, ".eventbus");

/** The JWT secret from the environment, else the one generated on first run and kept under `.eventbus/`. */
export function localJwtSecret(dir: string, fromEnv: string | undefined): string {
  if (fromEnv) return fromEnv;
  const file = join(dir, "jwt-secret");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(dir, { recursive: true });
  const secret = randomBytes(32).toString("base64url");
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
