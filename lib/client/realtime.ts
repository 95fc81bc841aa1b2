import { matchesEventPattern } from "../patterns/matchPattern.ts";
import type { EventPattern as ServerPattern } from "../patterns/validatePattern.ts";
import { type EventBusClientError, errorForCode, statusForCode, UnavailableError } from "./errors.ts";
import { positionParam, toBigPosition } from "./position.ts";
import { isPresenceFrame, type Presence, PresenceList, type PresenceMember } from "./presence.ts";
import { TokenKeeper, type TokenSource } from "./token.ts";
import type { CloudEvent, EventPattern, Position } from "./types.ts";
import { OPEN, resolveWebSocket, type WebSocketConstructor, type WebSocketLike } from "./webSocket.ts";

/** `connecting` (first attempt), `open`, `reconnecting` (after a loss, until open again), `closed` (by `close()`). */
export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

/** Topics that carry stored events (and take `from`); every other topic carries ephemeral messages. */
export type EventTopic = `stream:${string}` | `category:${string}` | "$all";

export interface EventContext {
  topic: string;
  /**
   * True for an event that arrived after a later one of the same topic was delivered (on AWS concurrent
   * broadcaster invocations can reorder batches). It is delivered rather than dropped: nothing is lost.
   */
  late: boolean;
}

export interface Message<TData = unknown> {
  topic?: string;
  data: TData;
  /** The publishing connection, or `null` when a server published over HTTP. */
  sender: string | null;
}

export type EventHandler = (event: CloudEvent, context: EventContext) => void | Promise<void>;
export type MessageHandler = (message: Message) => void | Promise<void>;

export interface SubscribeOptions {
  /** An EventBridge-style pattern; only matching events (or messages) are delivered. */
  filter?: EventPattern;
  /** Event topics: the first position wanted (the last seen + 1); history from there, then live events. */
  from?: Position | bigint;
}

/** Stops a subscription; resolves once the server acknowledged (or at once when disconnected). */
export type Unsubscribe = () => Promise<void>;

export interface RealtimeOptions {
  /** The WebSocket API, e.g. `ws://127.0.0.1:4001`. */
  url: string;
  token?: TokenSource | undefined;
  WebSocket?: WebSocketConstructor;
  /** First reconnect delay cap (default 250 ms); doubles per failed attempt up to `maxDelayMs`. */
  initialDelayMs?: number;
  /** Largest reconnect delay cap (default 10 s). The actual delay is uniform in [0, cap] ("full jitter"). */
  maxDelayMs?: number;
  /** A `ping` this often keeps the connection alive and detects a dead one (default 30 s). */
  pingIntervalMs?: number;
  /** No pong within this long closes the socket and reconnects (default 10 s). */
  pongTimeoutMs?: number;
  /** Frames that get no answer within this long fail (default 30 s). */
  requestTimeoutMs?: number;
  /** How long before a token's `exp` to refresh it (default a fifth of its lifetime, 1 s to 60 s). */
  refreshLeadMs?: number;
  /**
   * Reads events after a position over HTTP: used when a subscription's `from` (or a resume) is refused
   * for being too far behind for the WebSocket replay (`EventBusClient` wires it to `readAll`).
   */
  catchUp?: (
    after: bigint,
    limit: number,
    category: string | undefined,
  ) => AsyncIterable<{
    events: CloudEvent[];
    next: Position | null;
  }>;
}

interface Subscription {
  topic: string;
  kind: "events" | "messages";
  filter: EventPattern | undefined;
  /**
   * The first position wanted: the caller's `from`, then moved on by the `head` of a live-only
   * subscription's ack and by HTTP catch-up, so that a resubscription neither skips nor re-reads events.
   */
  from: bigint | undefined;
  eventHandler?: EventHandler;
  messageHandler?: MessageHandler;
  /** The last position handed to the handler (events topics). */
  last: bigint | undefined;
  /** Recently delivered positions, oldest first, to tell a redelivery (drop) from a late event (deliver). */
  recent: Set<bigint>;
  /** Handler calls run one after another, in arrival order. */
  chain: Promise<void>;
  acked: boolean;
  /** `subscribe` resolved: a later refusal ends the subscription instead of rejecting the call. */
  resolved: boolean;
  /** Reading a gap over HTTP: a reconnect leaves the resubscription to the catch-up. */
  catchingUp: boolean;
  ready: { resolve: () => void; reject: (error: unknown) => void };
  active: boolean;
}

interface PresenceEntry {
  topic: string;
  state: Record<string, unknown>;
  list: PresenceList;
  onChange: ((members: PresenceMember[]) => void) | undefined;
  /** Entered at least once: a reconnect enters again with the latest state. */
  entered: boolean;
}

interface Pending {
  resolve: (frame: ServerFrame) => void;
  reject: (error: unknown) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** A frame from the server, as parsed JSON. */
export type ServerFrame = { type: string; id?: string | number; topic?: string; [member: string]: unknown };

type Listener<T> = (value: T) => void;

/** How many delivered positions each subscription remembers for de-duplication. */
const RECENT_POSITIONS = 10_000;
/** Rounds of HTTP catch-up before giving up on a resume that keeps falling too far behind. */
const MAX_CATCH_UP_ROUNDS = 5;

const isEventTopic = (topic: string) =>
  topic === "$all" || topic.startsWith("stream:") || topic.startsWith("category:");

/**
 * The server's refusal of a `from` too far back for the WebSocket replay (lib/realtime/subscribeToTopic.ts,
 * `MAX_REPLAY_EVENTS`): the one VALIDATION_FAILED that reading the gap over HTTP cures. Error frames carry
 * only a code and a message, so the message tells it from a bad filter or topic.
 */
const isTooFarBehind = (error: unknown) =>
  (error as EventBusClientError).code === "VALIDATION_FAILED" &&
  /^More than \d+ events follow 'from'/.test((error as EventBusClientError).detail ?? "");

/**
 * A WebSocket connection to the bus that survives losses: it reconnects with exponential back-off and full
 * jitter, resumes every event subscription from the last position it delivered (history first, then live:
 * no gap, and duplicates are dropped by position), re-subscribes message topics, refreshes its token through
 * the token callback before `exp` (`auth` frame), and pings to keep the connection alive.
 *
 * @example
 * ```ts
 * const realtime = new RealtimeClient({ url: "ws://127.0.0.1:4001", token: async () => fetchToken() });
 * realtime.on("state", (state) => console.log(state));
 * const stop = await realtime.subscribe("category:orders", { from: 1 }, (event) => console.log(event.position));
 * await stop();
 * ```
 */
export class RealtimeClient {
  private readonly tokens: TokenKeeper;
  private socket: WebSocketLike | undefined;
  private stateValue: ConnectionState = "idle";
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly presences = new Map<string, PresenceEntry>();
  private readonly pending = new Map<string, Pending>();
  private readonly listeners = {
    frame: new Set<Listener<ServerFrame>>(),
    state: new Set<Listener<ConnectionState>>(),
    error: new Set<Listener<Error>>(),
    message: new Set<Listener<Message>>(),
  };
  private attempt = 0;
  private nextId = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private openWaiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  private connectionIdValue: string | undefined;

  constructor(private readonly options: RealtimeOptions) {
    this.tokens = new TokenKeeper(options.token, options.refreshLeadMs);
  }

  /** The connection state. */
  get state(): ConnectionState {
    return this.stateValue;
  }

  /** The server's id for this connection (for `POST /connections/{id}/messages`), once known. */
  get connectionId(): string | undefined {
    return this.connectionIdValue;
  }

  /**
   * Listens for state changes, errors the client recovered from or could not attribute to a call
   * (a handler that threw, a refused token refresh, a dropped subscription), direct messages (no topic),
   * or other server frames.
   * Returns a function that removes the listener.
   */
  on(event: "state", listener: Listener<ConnectionState>): () => void;
  on(event: "error", listener: Listener<Error>): () => void;
  on(event: "message", listener: Listener<Message>): () => void;
  /** Server frames the client does not handle itself (e.g. `presence.*`), as parsed JSON. */
  on(event: "frame", listener: Listener<ServerFrame>): () => void;
  on(event: "state" | "error" | "message" | "frame", listener: Listener<never>): () => void {
    const set = this.listeners[event] as Set<Listener<never>>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Opens the connection (done on first `subscribe` or `publish` anyway); resolves once open. */
  connect(): Promise<void> {
    if (this.stateValue === "open") return Promise.resolve();
    if (this.stateValue === "closed")
      return Promise.reject(new UnavailableError("NETWORK", 0, "The realtime client is closed."));
    const opened = new Promise<void>((resolve, reject) => this.openWaiters.push({ resolve, reject }));
    if (this.stateValue === "idle") void this.open();
    return opened;
  }

  /**
   * Subscribes to a topic. Event topics (`stream:<id>`, `category:<name>`, `$all`) deliver CloudEvents in
   * position order, each once, across reconnects; other topics deliver ephemeral messages. Resolves with an
   * `Unsubscribe` once the server acknowledged; rejects with the server's error (`FORBIDDEN`, ...).
   */
  subscribe(topic: EventTopic, options: SubscribeOptions, handler: EventHandler): Promise<Unsubscribe>;
  subscribe(topic: string, options: SubscribeOptions, handler: MessageHandler): Promise<Unsubscribe>;
  subscribe(
    topic: string,
    options: SubscribeOptions,
    handler: EventHandler | MessageHandler,
  ): Promise<Unsubscribe> {
    if (this.subscriptions.has(topic)) {
      return Promise.reject(
        errorForCode(
          "VALIDATION_FAILED",
          0,
          `Already subscribed to '${topic}': unsubscribe first (one filter per topic).`,
        ),
      );
    }
    const kind = isEventTopic(topic) ? "events" : "messages";
    return new Promise<Unsubscribe>((resolve, reject) => {
      const subscription: Subscription = {
        topic,
        kind,
        filter: options.filter,
        from: options.from === undefined ? undefined : toBigPosition(options.from),
        ...(kind === "events"
          ? { eventHandler: handler as EventHandler }
          : { messageHandler: handler as MessageHandler }),
        last: undefined,
        recent: new Set(),
        chain: Promise.resolve(),
        acked: false,
        resolved: false,
        catchingUp: false,
        active: true,
        ready: {
          resolve: () => {
            subscription.resolved = true;
            resolve(() => this.unsubscribe(subscription));
          },
          reject: (error) => {
            this.subscriptions.delete(topic);
            subscription.active = false;
            reject(error);
          },
        },
      };
      this.subscriptions.set(topic, subscription);
      if (this.stateValue === "open") this.sendSubscribe(subscription);
      else if (this.stateValue === "idle") void this.open();
      else if (this.stateValue === "closed")
        subscription.ready.reject(new UnavailableError("NETWORK", 0, "The realtime client is closed."));
    });
  }

  /** Publishes an ephemeral message to a topic's subscribers; resolves on the server's ack. */
  async publish(topic: string, data: unknown, options: { excludeSelf?: boolean } = {}): Promise<void> {
    await this.connect();
    await this.request({
      action: "publish",
      topic,
      data,
      ...(options.excludeSelf ? { excludeSelf: true } : {}),
    });
  }

  /**
   * Enters a topic's presence (an ephemeral topic such as `room:lobby`) with `state`, and keeps the list
   * of who is present: `onChange` gets it after every change, `members()` returns it. Frames that arrive
   * out of order are applied by their `seq`, so the list ends exact. After a reconnect the client enters
   * again with its latest state and rebuilds the list from the fresh sync. Rejects with the server's error
   * (`FORBIDDEN`, `VALIDATION_FAILED` for a full room or a non-ephemeral topic, `PAYLOAD_TOO_LARGE`).
   *
   * @example
   * ```ts
   * const lobby = await realtime.enterPresence("room:lobby", { name: "Ada" }, (members) =>
   *   render(members.map((m) => m.state.name)),
   * );
   * await lobby.update({ name: "Ada", typing: true });
   * await lobby.leave();
   * ```
   */
  async enterPresence<TState extends Record<string, unknown>>(
    topic: string,
    state: TState,
    onChange?: (members: PresenceMember<TState>[]) => void,
  ): Promise<Presence<TState>> {
    if (this.presences.has(topic)) {
      throw errorForCode("VALIDATION_FAILED", 0, `Already present on '${topic}': update or leave instead.`);
    }
    const entry: PresenceEntry = {
      topic,
      state,
      list: new PresenceList(),
      onChange: onChange as PresenceEntry["onChange"],
      entered: false,
    };
    this.presences.set(topic, entry);
    try {
      await this.connect();
      await this.request({ action: "presence.enter", topic, state });
      entry.entered = true;
    } catch (error) {
      this.presences.delete(topic);
      throw error;
    }
    return {
      topic,
      members: () => entry.list.members() as PresenceMember<TState>[],
      update: async (next: TState) => {
        entry.state = next;
        // Disconnected, the reconnect enters with it.
        if (this.stateValue === "open") await this.request({ action: "presence.update", topic, state: next });
      },
      leave: async () => {
        if (this.presences.get(topic) !== entry) return;
        this.presences.delete(topic);
        if (this.stateValue !== "open") return;
        await this.request({ action: "presence.leave", topic }).catch(() => {
          // Disconnected meanwhile: the server removed the presence with the connection.
        });
      },
    };
  }

  /** Round trip to the server; resolves with the connection id it reports. */
  async ping(): Promise<string> {
    await this.connect();
    const pong = await this.request({ action: "ping" });
    this.connectionIdValue = pong.connectionId as string;
    return this.connectionIdValue;
  }

  /** Closes the connection for good: no reconnect, every subscription ends. */
  close(): void {
    this.setState("closed");
    clearTimeout(this.reconnectTimer);
    this.stopTimers();
    const closed = new UnavailableError("NETWORK", 0, "The realtime client was closed.");
    for (const waiter of this.openWaiters.splice(0)) waiter.reject(closed);
    for (const subscription of this.subscriptions.values()) {
      subscription.active = false;
      if (!subscription.acked) subscription.ready.reject(closed);
    }
    this.subscriptions.clear();
    this.presences.clear();
    this.failPending(closed);
    this.socket?.close(1000, "client closed");
    this.socket = undefined;
  }

  private async unsubscribe(subscription: Subscription): Promise<void> {
    if (!subscription.active) return;
    subscription.active = false;
    this.subscriptions.delete(subscription.topic);
    if (this.stateValue !== "open") return;
    try {
      await this.request({ action: "unsubscribe", topic: subscription.topic });
    } catch {
      // Disconnected meanwhile: the server dropped the membership with the connection.
    }
  }

  private setState(state: ConnectionState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    for (const listener of this.listeners.state) listener(state);
  }

  private emitError(error: unknown): void {
    const value = error instanceof Error ? error : new Error(String(error));
    for (const listener of this.listeners.error) listener(value);
  }

  private async open(): Promise<void> {
    if (this.stateValue === "closed") return;
    this.setState(this.attempt === 0 && this.stateValue === "idle" ? "connecting" : "reconnecting");
    let socket: WebSocketLike;
    try {
      const WebSocketImpl = await resolveWebSocket(this.options.WebSocket);
      // After repeated failed handshakes the token may be the cause (browsers hide the 401): mint a fresh one.
      const token = await this.tokens.get(this.attempt >= 2 && this.tokens.refreshable);
      // close() may have been called while the token was being fetched.
      if ((this.stateValue as ConnectionState) === "closed") return;
      const url = new URL(this.options.url);
      if (token !== undefined) url.searchParams.set("token", token);
      socket = new WebSocketImpl(url.toString());
    } catch (error) {
      this.emitError(error);
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      opened = true;
      this.attempt = 0;
      this.setState("open");
      for (const waiter of this.openWaiters.splice(0)) waiter.resolve();
      for (const subscription of this.subscriptions.values())
        if (!subscription.catchingUp) this.sendSubscribe(subscription);
      for (const presence of this.presences.values()) if (presence.entered) this.reenter(presence);
      this.startTimers();
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket || typeof event.data !== "string") return;
      let frame: ServerFrame;
      try {
        frame = JSON.parse(event.data) as ServerFrame;
      } catch {
        return;
      }
      this.handleFrame(frame);
    };
    socket.onerror = () => {
      // The close event follows and carries what matters.
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.stopTimers();
      this.failPending(new UnavailableError("NETWORK", 0, "The connection was lost."));
      for (const subscription of this.subscriptions.values()) subscription.acked = false;
      if (this.stateValue === "closed") return;
      if (!opened) {
        // Refused or unreachable (browsers do not say which): tell listeners, then keep trying.
        this.emitError(
          new UnavailableError(
            "NETWORK",
            0,
            `Could not connect to ${this.options.url} (attempt ${this.attempt + 1}).`,
          ),
        );
      }
      this.scheduleReconnect();
    };
  }

  /** Enters a presence again on a new connection, starting its list over from the sync that follows. */
  private reenter(presence: PresenceEntry): void {
    presence.list.clear();
    presence.onChange?.([]);
    this.request({ action: "presence.enter", topic: presence.topic, state: presence.state }).catch((error) =>
      this.emitError(error),
    );
  }

  private scheduleReconnect(): void {
    if (this.stateValue === "closed") return;
    this.setState("reconnecting");
    const initial = this.options.initialDelayMs ?? 250;
    const max = this.options.maxDelayMs ?? 10_000;
    const cap = Math.min(max, initial * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    // Full jitter: clients dropped together by one gateway restart do not come back together.
    const delay = Math.random() * cap;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.open(), delay);
  }

  private startTimers(): void {
    const pingEvery = this.options.pingIntervalMs ?? 30_000;
    const pongTimeout = this.options.pongTimeoutMs ?? 10_000;
    this.pingTimer = setInterval(() => {
      const socket = this.socket;
      this.request({ action: "ping" }, pongTimeout)
        .then((pong) => {
          if (typeof pong.connectionId === "string") this.connectionIdValue = pong.connectionId;
        })
        .catch(() => {
          // No pong: the connection is dead even if the socket has not noticed; start over.
          if (socket && this.socket === socket) socket.close(4000, "no pong");
        });
    }, pingEvery);
    this.scheduleRefresh();
  }

  private stopTimers(): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.refreshTimer);
    this.pingTimer = undefined;
    this.refreshTimer = undefined;
  }

  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    const wait = this.tokens.msUntilRefresh();
    if (wait === undefined) return;
    this.refreshTimer = setTimeout(() => void this.refreshToken(), wait);
  }

  private async refreshToken(): Promise<void> {
    const socket = this.socket;
    try {
      const token = await this.tokens.get(true);
      if (!socket || this.socket !== socket || token === undefined) return;
      await this.request({ action: "auth", token });
    } catch (error) {
      // The server closes the connection at `exp`; the reconnect then asks the callback again.
      this.emitError(error);
    }
    if (this.socket === socket) this.scheduleRefresh();
  }

  private sendSubscribe(subscription: Subscription, from = this.resumeFrom(subscription)): void {
    const frame = {
      action: "subscribe",
      topic: subscription.topic,
      ...(subscription.filter === undefined ? {} : { filter: subscription.filter }),
      ...(from === undefined ? {} : { from: positionParam(from) }),
    };
    this.request(frame).then(
      (ack) => {
        // A live-only subscription resumes after the head its ack reports, not only after its last event:
        // events appended while it was disconnected, before it delivered any, are not skipped.
        if (from === undefined && subscription.kind === "events" && typeof ack.head === "number") {
          this.moveFrom(subscription, BigInt(ack.head) + 1n);
        }
        subscription.acked = true;
        subscription.ready.resolve();
      },
      (error: unknown) => this.subscribeRefused(subscription, from, error),
    );
  }

  /** Where a (re)subscription starts: after the last delivered event or where `from` points, the later. */
  private resumeFrom(subscription: Subscription): bigint | undefined {
    if (subscription.kind !== "events") return undefined;
    if (subscription.last === undefined) return subscription.from;
    const next = subscription.last + 1n;
    return subscription.from !== undefined && subscription.from > next ? subscription.from : next;
  }

  private moveFrom(subscription: Subscription, from: bigint): void {
    if (subscription.from === undefined || from > subscription.from) subscription.from = from;
  }

  private subscribeRefused(subscription: Subscription, from: bigint | undefined, error: unknown): void {
    if (!subscription.active) return;
    const code = (error as EventBusClientError).code;
    if (code === "NETWORK") return; // the connection dropped; the reconnect subscribes again
    if (from !== undefined && isTooFarBehind(error) && this.options.catchUp) {
      // Too far behind for the WebSocket replay (a first `from`, or a resume after a long disconnect):
      // read the gap over HTTP, then subscribe from its end. A first `subscribe` resolves after that.
      subscription.catchingUp = true;
      void this.catchUpOverHttp(subscription)
        .catch((cause) => {
          if (!subscription.resolved) subscription.ready.reject(cause);
          else {
            this.emitError(cause);
            this.dropSubscription(subscription, cause);
          }
        })
        .finally(() => {
          subscription.catchingUp = false;
        });
      return;
    }
    if (!subscription.resolved) subscription.ready.reject(error);
    else this.dropSubscription(subscription, error);
  }

  private dropSubscription(subscription: Subscription, error: unknown): void {
    subscription.active = false;
    this.subscriptions.delete(subscription.topic);
    const reason = (error as Error).message ?? String(error);
    this.emitError(new Error(`Subscription to '${subscription.topic}' ended: ${reason}`, { cause: error }));
  }

  private async catchUpOverHttp(subscription: Subscription): Promise<void> {
    const topic = subscription.topic;
    const streamId = topic.startsWith("stream:") ? topic.slice("stream:".length) : undefined;
    const category = topic.startsWith("category:")
      ? topic.slice("category:".length)
      : streamId === undefined
        ? undefined
        : streamId.split("-")[0];
    for (let round = 0; round < MAX_CATCH_UP_ROUNDS; round++) {
      const after = this.resumeFrom(subscription)! - 1n;
      for await (const page of this.options.catchUp!(after < 0n ? 0n : after, 1000, category)) {
        if (!subscription.active) return;
        const events = page.events.filter(
          (event) =>
            (streamId === undefined || event.streamid === streamId) &&
            (subscription.filter === undefined ||
              matchesEventPattern(subscription.filter as ServerPattern, event)),
        );
        this.deliverEvents(subscription, events);
        // Read past, matching or not: the resubscription starts after everything read.
        const lastRead = page.events.at(-1);
        if (lastRead) this.moveFrom(subscription, toBigPosition(lastRead.position) + 1n);
      }
      if (!subscription.active || this.stateValue !== "open") return;
      const from = this.resumeFrom(subscription)!;
      try {
        await this.request({
          action: "subscribe",
          topic,
          ...(subscription.filter === undefined ? {} : { filter: subscription.filter }),
          from: positionParam(from),
        });
        subscription.acked = true;
        subscription.ready.resolve();
        return;
      } catch (error) {
        const code = (error as EventBusClientError).code;
        if (code === "NETWORK") return;
        if (!isTooFarBehind(error)) throw error;
      }
    }
    throw errorForCode(
      "UNAVAILABLE",
      0,
      `Could not catch up with '${topic}': events keep arriving faster than it reads.`,
    );
  }

  private handleFrame(frame: ServerFrame): void {
    if (frame.id !== undefined && (frame.type === "ack" || frame.type === "pong" || frame.type === "error")) {
      const pending = this.pending.get(String(frame.id));
      if (pending) {
        this.pending.delete(String(frame.id));
        clearTimeout(pending.timer);
        for (const listener of this.listeners.frame) listener(frame);
        if (frame.type === "error") {
          const code = String(frame.code);
          pending.reject(
            errorForCode(code, statusForCode(code), String(frame.message ?? code), { ...frame }),
          );
        } else pending.resolve(frame);
        return;
      }
    }
    if (frame.type === "events" && typeof frame.topic === "string" && Array.isArray(frame.events)) {
      const subscription = this.subscriptions.get(frame.topic);
      if (subscription?.kind === "events") this.deliverEvents(subscription, frame.events as CloudEvent[]);
      return;
    }
    if (frame.type === "message") {
      const message: Message = {
        ...(typeof frame.topic === "string" ? { topic: frame.topic } : {}),
        data: frame.data,
        sender: (frame.sender as string | null) ?? null,
      };
      if (message.topic === undefined) {
        for (const listener of this.listeners.message) listener(message);
        return;
      }
      // The topic itself and the one wildcard that covers it (`room:lobby.*` for `room:lobby.a`).
      const dot = message.topic.lastIndexOf(".");
      const wildcard = dot > 0 ? `${message.topic.slice(0, dot)}.*` : undefined;
      for (const name of wildcard ? [message.topic, wildcard] : [message.topic]) {
        const subscription = this.subscriptions.get(name);
        const handler = subscription?.messageHandler;
        if (subscription && handler) this.enqueue(subscription, () => handler(message));
      }
      return;
    }
    if (isPresenceFrame(frame)) {
      const presence = this.presences.get(frame.topic);
      if (presence?.list.apply(frame)) presence.onChange?.(presence.list.members());
    }
    for (const listener of this.listeners.frame) listener(frame);
    if (frame.type === "error") {
      // An error the server could not tie to a frame of ours, e.g. the token expired before a refresh.
      this.emitError(
        errorForCode(
          String(frame.code),
          statusForCode(String(frame.code)),
          String(frame.message ?? frame.code),
          {
            ...frame,
          },
        ),
      );
    }
  }

  /** Hands events to the handler once each, in position order; see `EventContext.late`. */
  private deliverEvents(subscription: Subscription, events: CloudEvent[]): void {
    const sorted = events
      .map((event) => ({ event, position: toBigPosition(event.position) }))
      .sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0));
    const handler = subscription.eventHandler!;
    for (const { event, position } of sorted) {
      if (subscription.recent.has(position)) continue; // delivered already: a redelivery
      let late = false;
      if (subscription.last !== undefined && position <= subscription.last) {
        const oldest = subscription.recent.values().next().value;
        // Older than everything remembered: treat it as a redelivery rather than risk a second delivery.
        if (oldest === undefined || position < oldest) continue;
        late = true;
      } else {
        subscription.last = position;
      }
      subscription.recent.add(position);
      if (subscription.recent.size > RECENT_POSITIONS) {
        subscription.recent.delete(subscription.recent.values().next().value!);
      }
      const context: EventContext = { topic: subscription.topic, late };
      this.enqueue(subscription, () => handler(event, context));
    }
  }

  private enqueue(subscription: Subscription, call: () => void | Promise<void>): void {
    subscription.chain = subscription.chain.then(async () => {
      if (!subscription.active) return;
      try {
        await call();
      } catch (error) {
        this.emitError(error);
      }
    });
  }

  private request(
    frame: Record<string, unknown>,
    timeoutMs = this.options.requestTimeoutMs ?? 30_000,
  ): Promise<ServerFrame> {
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN) {
      return Promise.reject(new UnavailableError("NETWORK", 0, "Not connected."));
    }
    const id = `c${++this.nextId}`;
    return new Promise<ServerFrame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new UnavailableError(
            "NETWORK",
            0,
            `No answer to '${String(frame.action)}' within ${timeoutMs} ms.`,
          ),
        );
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      socket.send(JSON.stringify({ ...frame, id }));
    });
  }

  private failPending(error: Error): void {
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(error);
      this.pending.delete(id);
    }
  }
}
