import { matchesEventPattern } from "../patterns/matchPattern.ts";
import { EventBusClientError, errorFromResponse, UnauthorizedError, UnavailableError } from "./errors.ts";
import { PagedRead } from "./pages.ts";
import type { PresenceMember } from "./presence.ts";
import { RealtimeClient, type RealtimeOptions } from "./realtime.ts";
import { TokenKeeper, type TokenSource } from "./token.ts";
import type {
  AllPage,
  AppendResult,
  CaptureStatus,
  CloudEvent,
  EventPattern,
  ExpectedVersion,
  NewEvent,
  Position,
  StreamInfo,
  StreamPage,
  SubscriptionDefinition,
  SubscriptionStatus,
} from "./types.ts";
import type { WebSocketConstructor } from "./webSocket.ts";

export interface ClientOptions {
  /** The HTTP API, e.g. `http://127.0.0.1:4000` (`npm run dev`) or the API Gateway URL. */
  url: string;
  /** The WebSocket API, e.g. `ws://127.0.0.1:4001`; needed for `subscribe` and `realtime`. */
  wsUrl?: string;
  /** A token, or an async callback returning a fresh one (asked again before each token's `exp`). */
  token?: TokenSource;
  /** Defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /**
   * The WebSocket constructor; defaults to the global one (browsers, Node 22+), else the `ws` package in
   * Node 20.
   */
  WebSocket?: WebSocketConstructor;
  /** Reconnect, keep-alive and token-refresh settings of the realtime connection. */
  realtime?: Omit<RealtimeOptions, "url" | "token" | "WebSocket">;
}

export interface ReadOptions {
  /** First version to read (forward, default 1) or the version to read back from (backward, default the last). */
  from?: number;
  /** 1-1000; the server's default otherwise. */
  limit?: number;
  direction?: "forward" | "backward";
}

export interface ReadAllOptions {
  /** Events after this position (default 0: from the beginning). */
  after?: Position | bigint;
  limit?: number;
  /** Any of these types. */
  type?: string | string[];
  /** Any of these categories (the stream id before its first `-`). */
  category?: string | string[];
  /** An EventBridge-style pattern; events that do not match are left out of each page. */
  filter?: EventPattern;
}

/**
 * The bus's HTTP API, typed: append, read, streams, subscription admin and server-side publish, plus the
 * realtime client (`subscribe`) over the WebSocket API. Runs in Node 20+ and browsers.
 *
 * @example
 * ```ts
 * const bus = createClient({ url: "http://127.0.0.1:4000", wsUrl: "ws://127.0.0.1:4001", token });
 * await bus.append("orders-42", { type: "OrderPlaced", data: { total: 42 } }, { expectedVersion: "no_stream" });
 * for await (const event of bus.readAll({ category: "orders" }).events()) console.log(event.position, event.type);
 * ```
 */
export class EventBusClient {
  readonly url: string;
  private readonly tokens: TokenKeeper;
  private readonly fetchImpl: typeof fetch;
  private realtimeClient: RealtimeClient | undefined;

  constructor(private readonly options: ClientOptions) {
    this.url = options.url.replace(/\/+$/, "");
    this.tokens = new TokenKeeper(options.token, options.realtime?.refreshLeadMs);
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** Appends one event or several, atomically. Throws `WrongExpectedVersionError` on a concurrency conflict. */
  append(
    streamId: string,
    events: NewEvent | NewEvent[],
    options: { expectedVersion?: ExpectedVersion } = {},
  ): Promise<AppendResult> {
    const query = options.expectedVersion === undefined ? "" : `?expectedVersion=${options.expectedVersion}`;
    return this.request("POST", `/streams/${encodeURIComponent(streamId)}/events${query}`, events);
  }

  /** One page of a stream (await it), or every page (`for await`); `.events()` iterates the events. */
  read(streamId: string, options: ReadOptions = {}): PagedRead<StreamPage, CloudEvent> {
    return new PagedRead<StreamPage, CloudEvent>(
      (from) =>
        this.request(
          "GET",
          `/streams/${encodeURIComponent(streamId)}/events${queryString({
            from: from as number | undefined,
            limit: options.limit,
            direction: options.direction,
          })}`,
        ),
      (page) => page.next,
      options.from,
    );
  }

  /** All streams in global order, one page (await it) or every page up to the head (`for await`). */
  readAll(options: ReadAllOptions = {}): PagedRead<AllPage, CloudEvent> {
    const filter = options.filter;
    return new PagedRead<AllPage, CloudEvent>(
      async (after) => {
        const page = await this.request<AllPage>(
          "GET",
          `/events${queryString({
            after: after as string | undefined,
            limit: options.limit,
            type: options.type,
            category: options.category,
            filter: filter === undefined ? undefined : JSON.stringify(filter),
          })}`,
        );
        // Applied here as well, so the result is the same on servers that ignore `filter`.
        return filter === undefined
          ? page
          : { ...page, events: page.events.filter((event) => matchesEventPattern(filter as never, event)) };
      },
      (page) => page.next,
      options.after === undefined ? undefined : String(options.after),
    );
  }

  /** A stream's version and timestamps; `NotFoundError` (`STREAM_NOT_FOUND`) if it has no events. */
  getStream(streamId: string): Promise<StreamInfo> {
    return this.request("GET", `/streams/${encodeURIComponent(streamId)}`);
  }

  /** Persistent subscriptions: definition, queues and live state. */
  readonly subscriptions = {
    list: async (): Promise<SubscriptionStatus[]> =>
      (await this.request<{ subscriptions: SubscriptionStatus[] }>("GET", "/subscriptions")).subscriptions,
    get: (name: string): Promise<SubscriptionStatus> =>
      this.request("GET", `/subscriptions/${encodeURIComponent(name)}`),
    /** Creates it (`created: true`), or finds an identical one; `ConflictError` for a different definition. */
    create: async (
      name: string,
      definition: SubscriptionDefinition = {},
    ): Promise<SubscriptionStatus & { created: boolean }> => {
      const { status, body } = await this.send(
        "PUT",
        `/subscriptions/${encodeURIComponent(name)}`,
        definition,
      );
      return { ...(body as SubscriptionStatus), created: status === 201 };
    },
    delete: async (name: string): Promise<void> => {
      await this.send("DELETE", `/subscriptions/${encodeURIComponent(name)}`);
    },
    /** Forwards every matching event from `from` on again. */
    replay: (
      name: string,
      from: "origin" | "current" | Position | bigint,
    ): Promise<{ name: string; checkpoint: Position; [member: string]: unknown }> =>
      this.request("POST", `/subscriptions/${encodeURIComponent(name)}/replay`, {
        from:
          typeof from === "bigint" || (typeof from === "string" && /^\d+$/.test(from))
            ? jsonPosition(from)
            : from,
      }),
    /** Events parked for good (refused by SQS), with their reasons. */
    parked: (name: string): Promise<Record<string, unknown>> =>
      this.request("GET", `/subscriptions/${encodeURIComponent(name)}/parked`),
    /**
     * Up to `limit` (1-50, default 10) messages of the subscription's dead-letter queue, looked at and left
     * there (each look counts as a receive), oldest first.
     */
    deadLetters: (name: string, options: { limit?: number } = {}): Promise<Record<string, unknown>> =>
      this.request(
        "GET",
        `/subscriptions/${encodeURIComponent(name)}/dead-letters${queryString({ limit: options.limit })}`,
      ),
    /** Moves the DLQ's messages back to the queue. */
    redrive: (name: string): Promise<{ moved: number; drained: boolean; [member: string]: unknown }> =>
      this.request("POST", `/subscriptions/${encodeURIComponent(name)}/redrive`),
  };

  /** Change data capture: Postgres tables whose row changes become events (scope `admin` to change them). */
  readonly captures = {
    list: async (): Promise<CaptureStatus[]> =>
      (await this.request<{ captures: CaptureStatus[] }>("GET", "/captures")).captures,
    get: (name: string): Promise<CaptureStatus> =>
      this.request("GET", `/captures/${encodeURIComponent(name)}`),
    /** Starts capturing a table (`created: true`), or finds the same capture; `CaptureNotPossibleError` says why not. */
    create: async (
      name: string,
      definition: { table: string; replicaIdentityFull?: boolean },
    ): Promise<CaptureStatus & { created: boolean }> => {
      const { status, body } = await this.send("PUT", `/captures/${encodeURIComponent(name)}`, definition);
      return { ...(body as CaptureStatus), created: status === 201 };
    },
    delete: async (name: string): Promise<void> => {
      await this.send("DELETE", `/captures/${encodeURIComponent(name)}`);
    },
  };

  /** Stream ids with their versions, a page at a time (`prefix`, `category`, `after`: the last id seen). */
  listStreams(
    options: { prefix?: string; category?: string; after?: string; limit?: number } = {},
  ): Promise<{ streams: Array<Record<string, unknown>>; next: string | null; [member: string]: unknown }> {
    return this.request(
      "GET",
      `/streams${queryString({ prefix: options.prefix, category: options.category, after: options.after, limit: options.limit })}`,
    );
  }

  /** Who is present on a topic (realtime presence), in the order of their last change. */
  presence(topic: string): Promise<{ topic: string; members: PresenceMember[] }> {
    return this.request("GET", `/topics/${encodeURIComponent(topic)}/presence`);
  }

  /** Broadcasts an ephemeral message to a topic's WebSocket subscribers (never stored). */
  async publish(topic: string, data: unknown): Promise<void> {
    await this.send("POST", `/topics/${encodeURIComponent(topic)}/messages`, { data });
  }

  /** Sends an ephemeral message to one WebSocket connection; `CONNECTION_GONE` (410) if it is gone. */
  async sendToConnection(connectionId: string, data: unknown): Promise<void> {
    await this.send("POST", `/connections/${encodeURIComponent(connectionId)}/messages`, { data });
  }

  /** The realtime connection (created on first use, shared by every `subscribe`). */
  get realtime(): RealtimeClient {
    if (!this.options.wsUrl) {
      throw new EventBusClientError("VALIDATION_FAILED", 0, "Give 'wsUrl' to use the realtime client.");
    }
    this.realtimeClient ??= new RealtimeClient({
      ...this.options.realtime,
      url: this.options.wsUrl,
      token: this.options.token,
      ...(this.options.WebSocket ? { WebSocket: this.options.WebSocket } : {}),
      catchUp: (after, limit, category) =>
        this.readAll({ after, limit, ...(category === undefined ? {} : { category }) }),
    });
    return this.realtimeClient;
  }

  /** Shorthand for `client.realtime.subscribe(...)`. */
  subscribe: RealtimeClient["subscribe"] = ((...args: Parameters<RealtimeClient["subscribe"]>) =>
    (this.realtime.subscribe as (...a: unknown[]) => unknown)(...args)) as RealtimeClient["subscribe"];

  /** Closes the realtime connection, if any. */
  close(): void {
    this.realtimeClient?.close();
  }

  /** A request whose 2xx body is returned; anything else becomes the typed error for its code. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await this.send(method, path, body)).body as T;
  }

  private async send(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    let response = await this.fetchOnce(method, path, body, false);
    // A refreshable token may have been revoked or expired early: one fresh try.
    if (response.status === 401 && this.tokens.refreshable)
      response = await this.fetchOnce(method, path, body, true);
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (response.status >= 200 && response.status < 300) return { status: response.status, body: parsed };
    throw errorFromResponse(response.status, parsed, response.headers.get("retry-after"));
  }

  private async fetchOnce(
    method: string,
    path: string,
    body: unknown,
    freshToken: boolean,
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json" };
    let token: string | undefined;
    try {
      token = await this.tokens.get(freshToken);
    } catch (error) {
      throw new UnauthorizedError(
        "UNAUTHORIZED",
        0,
        `The token callback failed: ${(error as Error).message}`,
        {},
        {
          cause: error,
        },
      );
    }
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    try {
      return await this.fetchImpl(`${this.url}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new UnavailableError(
        "NETWORK",
        0,
        `Could not reach ${this.url}: ${(error as Error).message}`,
        {},
        {
          cause: error,
        },
      );
    }
  }
}

/** Creates a client; see {@link EventBusClient}. */
export function createClient(options: ClientOptions): EventBusClient {
  return new EventBusClient(options);
}

function jsonPosition(position: string | bigint): number | string {
  const big = BigInt(position);
  return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big.toString();
}

function queryString(params: Record<string, string | number | string[] | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) search.append(key, String(item));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
