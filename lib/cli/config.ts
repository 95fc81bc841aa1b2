import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CliError, EXIT } from "./output.ts";

/** Where the CLI talks to and as whom, and where each value came from (shown by `doctor`). */
export interface CliConfig {
  url: string;
  wsUrl: string | undefined;
  token: string | undefined;
  sources: { url: string; wsUrl: string; token: string };
  profile: string;
  /** The profile file read, if any. */
  file: string | undefined;
}

export interface ConfigFlags {
  url?: string;
  wsUrl?: string;
  token?: string;
  profile?: string;
  config?: string;
}

interface Profile {
  url?: string;
  wsUrl?: string;
  token?: string;
}

/** What `npm run dev` serves by default. */
export const DEFAULT_URL = "http://127.0.0.1:4000";

/**
 * Resolves the configuration once, each value from the first of: flags, environment (`EVENTBUS_URL`,
 * `EVENTBUS_WS_URL`, `EVENTBUS_TOKEN`), the profile file (`--config`, `EVENTBUS_CONFIG`, else
 * `~/.config/eventbus/config.json`; profile `--profile`, `EVENTBUS_PROFILE`, else `default`), defaults.
 * The file holds `{"profiles": {"default": {"url", "wsUrl", "token"}, ...}}` or those keys at the top.
 */
export function resolveConfig(
  flags: ConfigFlags,
  env: Record<string, string | undefined>,
  home: string,
): CliConfig {
  const explicitFile = flags.config ?? env.EVENTBUS_CONFIG;
  const file = explicitFile ?? join(home, ".config", "eventbus", "config.json");
  const profileName = flags.profile ?? env.EVENTBUS_PROFILE ?? "default";
  let profile: Profile = {};
  let usedFile: string | undefined;
  if (existsSync(file)) {
    profile = readProfile(
      file,
      profileName,
      flags.profile !== undefined || env.EVENTBUS_PROFILE !== undefined,
    );
    usedFile = file;
  } else if (explicitFile !== undefined) {
    throw new CliError(EXIT.usage, `config file ${explicitFile} does not exist`);
  }
  const pick = (flag: string | undefined, envName: string, fromFile: string | undefined) =>
    flag !== undefined
      ? { value: flag, source: "flag" }
      : env[envName]
        ? { value: env[envName], source: envName }
        : fromFile !== undefined
          ? { value: fromFile, source: `${usedFile} (${profileName})` }
          : { value: undefined, source: "unset" };
  const url = pick(flags.url, "EVENTBUS_URL", profile.url);
  const wsUrl = pick(flags.wsUrl, "EVENTBUS_WS_URL", profile.wsUrl);
  const token = pick(flags.token, "EVENTBUS_TOKEN", profile.token);
  // A token pasted or read from a file often brings a newline, which no HTTP header may carry.
  const tokenValue = token.value?.trim() || undefined;
  const httpUrl = (url.value ?? DEFAULT_URL).replace(/\/+$/, "");
  checkUrl(httpUrl, ["http:", "https:"], "url");
  const derivedWs = wsUrl.value ?? defaultWsUrl(httpUrl);
  if (derivedWs !== undefined) checkUrl(derivedWs, ["ws:", "wss:"], "ws-url");
  return {
    url: httpUrl,
    wsUrl: derivedWs,
    token: tokenValue,
    sources: {
      url: url.value === undefined ? "default" : url.source,
      wsUrl:
        wsUrl.value === undefined ? (derivedWs === undefined ? "unset" : "derived from url") : wsUrl.source,
      token: token.source,
    },
    profile: profileName,
    file: usedFile,
  };
}

function readProfile(file: string, name: string, named: boolean): Profile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new CliError(EXIT.usage, `config file ${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new CliError(EXIT.usage, `config file ${file} must hold a JSON object`);
  }
  const root = parsed as { profiles?: Record<string, Profile> } & Profile;
  const fromProfiles = root.profiles?.[name];
  if (named && name !== "default" && fromProfiles === undefined) {
    throw new CliError(EXIT.usage, `config file ${file} has no profile '${name}'`);
  }
  const profile = { ...pickProfile(root), ...(fromProfiles ? pickProfile(fromProfiles) : {}) };
  return profile;
}

function pickProfile(value: Profile): Profile {
  const out: Profile = {};
  for (const key of ["url", "wsUrl", "token"] as const) {
    if (typeof value[key] === "string") out[key] = value[key];
  }
  return out;
}

/** `npm run dev` serves WebSocket on the port after HTTP's; elsewhere the WebSocket URL must be given. */
function defaultWsUrl(httpUrl: string): string | undefined {
  const url = new URL(httpUrl);
  if (!["127.0.0.1", "localhost", "[::1]"].includes(url.hostname) || url.port === "") return undefined;
  return `ws://${url.hostname}:${Number(url.port) + 1}`;
}

function checkUrl(value: string, protocols: string[], flag: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(EXIT.usage, `--${flag} '${value}' is not a URL`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new CliError(
      EXIT.usage,
      `--${flag} '${value}' must start with ${protocols.map((p) => `${p}//`).join(" or ")}`,
    );
  }
}
