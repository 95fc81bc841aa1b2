/**
 * The WebSocket the realtime client uses: an injected constructor, else the global one (browsers, Node 22+),
 * else the `ws` package, imported lazily from `nodeWebSocket.ts` so that a browser bundle never reaches it
 * (the package maps that file to `false` for browsers).
 */

/** The subset of the WHATWG WebSocket API the client needs; browsers' and `ws`'s both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** `WebSocket.OPEN` in every implementation. */
export const OPEN = 1;

/** The constructor to use: the given one, the global one, or `ws` in Node 20. */
export async function resolveWebSocket(given?: WebSocketConstructor): Promise<WebSocketConstructor> {
  if (given) return given;
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global) return global;
  const { nodeWebSocket } = await import("./nodeWebSocket.ts");
  if (!nodeWebSocket) throw new Error("No WebSocket implementation: pass one as the 'WebSocket' option.");
  return nodeWebSocket;
}
