/** The console's HTTP client: same-origin API calls with the operator's bearer token. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = "eventbus.console.token";

export const session = {
  get token(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set token(value: string | null) {
    if (value === null) sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, value);
  },
};

/** Calls the bus's HTTP API; a problem+json answer becomes an `ApiError` carrying its detail and code. */
export async function api<T = unknown>(
  path: string,
  options: { method?: string; body?: unknown; contentType?: string } = {},
): Promise<T> {
  const headers: Record<string, string> = {};
  if (session.token) headers.authorization = `Bearer ${session.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers["content-type"] = options.contentType ?? "application/json";
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(path, { method: options.method ?? "GET", headers, body });
  } catch {
    throw new ApiError(0, "NETWORK", "The bus did not answer. Is npm run dev still running?");
  }
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  if (!response.ok) {
    const problem = (parsed ?? {}) as { detail?: string; code?: string };
    throw new ApiError(
      response.status,
      problem.code ?? "HTTP_ERROR",
      problem.detail ?? `The bus answered ${response.status}.`,
    );
  }
  return parsed as T;
}

/** Settings served beside the console (the WebSocket URL for the live tail). */
export async function consoleSettings(): Promise<{ webSocketUrl?: string }> {
  try {
    const response = await fetch("/console/config.json");
    return response.ok ? ((await response.json()) as { webSocketUrl?: string }) : {};
  } catch {
    return {};
  }
}

/** A position as text: the bus is moving positions from JSON numbers to decimal strings; both are shown alike. */
export const pos = (value: unknown): string => (value === null || value === undefined ? "" : String(value));

/** The scopes of a JWT, read from its payload for display only (the bus verifies it on every call). */
export function tokenScopes(token: string): string | null {
  try {
    const payload = JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))) as {
      scope?: string;
      sub?: string;
    };
    return `${payload.sub ?? "?"} (${payload.scope ?? "no scope"})`;
  } catch {
    return null;
  }
}

export const enc = encodeURIComponent;
