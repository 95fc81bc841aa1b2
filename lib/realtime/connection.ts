import type { Principal } from "../auth/token.ts";

/** A WebSocket connection as stored at `$connect`: who connected, so later frames need no token. */
export interface Connection {
  connectionId: string;
  subject: string;
  scopes: string[];
  /** The token's `streams` bound, absent when unbounded. */
  streams?: string[];
  connectedAt: number;
  /**
   * When the connection's token expires (epoch seconds). Checked on every frame and by the broadcaster
   * before each post: past it the connection is closed, unless an `auth` frame brought a fresh token.
   */
  tokenExpiresAt: number;
  /** Epoch seconds; DynamoDB's TTL removes the item after it (a backstop: nothing reads an expired item). */
  expiresAt: number;
}

/** The principal a stored connection authenticated as. */
export const principalOf = (connection: Connection): Principal => ({
  subject: connection.subject,
  scopes: new Set(connection.scopes),
  streams: connection.streams,
  expiresAt: connection.tokenExpiresAt,
});

/** Has the token this connection authenticated with expired at `nowMs`? */
export const tokenExpired = (item: { tokenExpiresAt?: number }, nowMs = Date.now()): boolean =>
  item.tokenExpiresAt !== undefined && item.tokenExpiresAt * 1000 <= nowMs;

/** A topic membership as the broadcaster reads it (the item under the topic's partition key). */
export interface Membership {
  connectionId: string;
  topic: string;
  /** The subscription's event pattern as JSON, absent when everything matches. */
  filter?: string;
  /** The subscriber's `streams` bound: events of other streams are never delivered to it. */
  streams?: string[];
  /** Deliver only events with a position above this one: the subscribe handler sent the rest. */
  seam?: number;
  /** The subscribe handler is still replaying history; see `settleSeam.ts`. */
  catchingUp?: boolean;
  /** While catching up: the highest position the broadcaster skipped and the handler must still send. */
  skipped?: number;
  /** The connection's `tokenExpiresAt`, copied so the broadcaster needs no second read. */
  tokenExpiresAt?: number;
  expiresAt: number;
}
