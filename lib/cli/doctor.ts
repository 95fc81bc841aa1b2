import WebSocket from "ws";
import { createClient } from "../client/client.ts";
import { EventBusClientError } from "../client/errors.ts";
import { tokenTimes } from "../client/token.ts";
import { VERSION } from "../client/version.ts";
import { colors as pc } from "./colors.ts";
import type { CliConfig } from "./config.ts";

export interface Check {
  name: string;
  ok: boolean;
  /** `warn` checks do not fail the command (e.g. a version the server does not report). */
  warn?: boolean;
  detail: string;
}

const timed = async <T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> => {
  const started = Date.now();
  const value = await work();
  return { value, ms: Date.now() - started };
};

/**
 * `eventbus doctor`: one check per line, each saying what was tried and what came back: configuration,
 * HTTP reachability and server version (`GET /health`), the token's expiry and whether the server accepts
 * it (`GET /events?limit=1`), and the WebSocket API (connect with the token and ping).
 */
export async function runDoctor(config: CliConfig, timeoutMs: number): Promise<Check[]> {
  const checks: Check[] = [];
  checks.push({
    name: "config",
    ok: true,
    detail: `url ${config.url} (${config.sources.url}), ws ${config.wsUrl ?? "none"} (${config.sources.wsUrl}), token ${config.sources.token}`,
  });

  const signal = () => AbortSignal.timeout(timeoutMs);
  let reachable = false;
  try {
    const { value: response, ms } = await timed(() => fetch(`${config.url}/health`, { signal: signal() }));
    const body = (await response.json().catch(() => ({}))) as { version?: unknown };
    reachable = true;
    checks.push({
      name: "http",
      ok: response.ok,
      detail: `GET /health answered ${response.status} in ${ms} ms`,
    });
    let version = typeof body.version === "string" ? body.version : undefined;
    if (version === undefined) {
      const doc = await fetch(`${config.url}/openapi.json`, { signal: signal() })
        .then((r) => (r.ok ? (r.json() as Promise<{ info?: { version?: unknown } }>) : undefined))
        .catch(() => undefined);
      if (typeof doc?.info?.version === "string") version = doc.info.version;
    }
    checks.push(versionCheck(version, VERSION));
  } catch (error) {
    checks.push({
      name: "http",
      ok: false,
      detail: `cannot reach ${config.url}: ${(error as Error).message}`,
    });
  }

  if (config.token === undefined) {
    checks.push({
      name: "auth",
      ok: false,
      detail: "no token: set --token, EVENTBUS_TOKEN or a profile's token",
    });
  } else {
    const times = tokenTimes(config.token);
    if (times) {
      const left = Math.round((times.expiresAt - Date.now()) / 1000);
      checks.push({
        name: "token",
        ok: left > 0,
        detail: left > 0 ? `expires in ${humanSeconds(left)}` : `expired ${humanSeconds(-left)} ago`,
      });
    }
    if (reachable) {
      try {
        const client = createClient({ url: config.url, token: config.token });
        const { ms } = await timed(() => client.readAll({ limit: 1 }).then(() => undefined));
        checks.push({ name: "auth", ok: true, detail: `the token may read events (${ms} ms)` });
      } catch (error) {
        const detail =
          error instanceof EventBusClientError ? `${error.code}: ${error.detail}` : (error as Error).message;
        // 403 means the token is valid but lacks events:read, which doctor cannot tell from a bad one.
        const forbidden = error instanceof EventBusClientError && error.status === 403;
        checks.push({ name: "auth", ok: forbidden, warn: forbidden, detail });
      }
    }
  }

  if (config.wsUrl === undefined) {
    checks.push({
      name: "websocket",
      ok: false,
      warn: true,
      detail: "no WebSocket URL: set --ws-url or EVENTBUS_WS_URL",
    });
  } else {
    try {
      const { value: connectionId, ms } = await timed(() =>
        pingOverWebSocket(config.wsUrl!, config.token, timeoutMs),
      );
      checks.push({
        name: "websocket",
        ok: true,
        detail: `${config.wsUrl} connected, pong in ${ms} ms (connection ${connectionId})`,
      });
    } catch (error) {
      checks.push({ name: "websocket", ok: false, detail: `${config.wsUrl}: ${(error as Error).message}` });
    }
  }
  return checks;
}

/**
 * Compares the server's package version with this CLI's. A different major or minor version warns (the
 * HTTP API and frames may differ; under 1.0 a minor release may change them), a different patch does not.
 * A warning does not fail `doctor`: the CLI may still work, and the user decides.
 *
 * @example
 * ```ts
 * versionCheck("0.2.0", "0.1.3"); // { name: "version", ok: false, warn: true, detail: "server 0.2.0, this CLI 0.1.3: ..." }
 * ```
 */
export function versionCheck(server: string | undefined, cli: string): Check {
  if (server === undefined) {
    return {
      name: "version",
      ok: false,
      warn: true,
      detail: `the server does not report its version (this CLI ${cli})`,
    };
  }
  const [serverMajor, serverMinor] = server.split(".");
  const [cliMajor, cliMinor] = cli.split(".");
  const part = serverMajor !== cliMajor ? "major" : serverMinor !== cliMinor ? "minor" : undefined;
  if (part === undefined) return { name: "version", ok: true, detail: `server ${server}, this CLI ${cli}` };
  return {
    name: "version",
    ok: false,
    warn: true,
    detail: `server ${server}, this CLI ${cli}: a different ${part} version; install the server's (npm install serverless-eventbus@${server}) if commands fail`,
  };
}

/** Prints the checks, one line each. */
export function printChecks(checks: Check[]): void {
  for (const check of checks) {
    const mark = check.ok ? pc.green("✓") : check.warn ? pc.yellow("!") : pc.red("✗");
    process.stdout.write(`${mark} ${check.name.padEnd(9)} ${check.detail}\n`);
  }
}

function humanSeconds(seconds: number): string {
  if (seconds >= 86400) return `${Math.floor(seconds / 86400)}d ${Math.floor((seconds % 86400) / 3600)}h`;
  if (seconds >= 3600) return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
  if (seconds >= 60) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  return `${seconds}s`;
}

/**
 * Connects once and pings, with `ws` directly rather than the SDK's reconnecting client, so that a refused
 * handshake is reported with its HTTP status (a browser-style WebSocket hides it).
 */
function pingOverWebSocket(url: string, token: string | undefined, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    if (token !== undefined) target.searchParams.set("token", token);
    const socket = new WebSocket(target);
    const finish = (error: Error | undefined, connectionId?: string) => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on("error", () => {});
      socket.terminate();
      if (error) reject(error);
      else resolve(connectionId ?? "unknown");
    };
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.on("unexpected-response", (_request, response) => {
      const status = response.statusCode ?? 0;
      const why =
        status === 401
          ? "the token was not accepted"
          : status === 403
            ? "the token has neither realtime:subscribe nor realtime:publish"
            : "unexpected answer";
      finish(new Error(`handshake refused with HTTP ${status}: ${why}`));
    });
    socket.on("error", (error) => finish(error));
    socket.on("open", () => socket.send(JSON.stringify({ action: "ping", id: "doctor" })));
    socket.on("message", (data) => {
      try {
        const frame = JSON.parse(data.toString()) as { type?: string; id?: unknown; connectionId?: string };
        if (frame.type === "pong" && frame.id === "doctor") finish(undefined, frame.connectionId);
      } catch {
        // not a frame of ours
      }
    });
  });
}
