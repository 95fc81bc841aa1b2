/**
 * Node 20 has no global WebSocket; the `ws` package fills in. Only `webSocket.ts` imports this file, lazily,
 * and browser builds map it to an empty module (package.json `browser` field), so `ws` never reaches them.
 */
import WebSocket from "ws";
import type { WebSocketConstructor } from "./webSocket.ts";

export const nodeWebSocket: WebSocketConstructor | undefined = WebSocket as unknown as WebSocketConstructor;
