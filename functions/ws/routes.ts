/**
 * The WebSocket API's routes (API Gateway selects them on `$request.body.action`): one Lambda handler
 * module each. The CDK stack and the local gateway both read this table.
 */
export interface WsRoute {
  /** API Gateway route key: `$connect`, `$disconnect`, `$default` or an `action` value. */
  routeKey: string;
  /** Module path relative to the repository root; it exports `handler`. */
  entry: string;
  /** A short, unique name used for the CDK function id. */
  name: string;
}

export const wsRoutes: readonly WsRoute[] = [
  { routeKey: "$connect", entry: "functions/ws/connect.ts", name: "WsConnect" },
  { routeKey: "$disconnect", entry: "functions/ws/disconnect.ts", name: "WsDisconnect" },
  { routeKey: "$default", entry: "functions/ws/default.ts", name: "WsDefault" },
  { routeKey: "subscribe", entry: "functions/ws/subscribe.ts", name: "WsSubscribe" },
  { routeKey: "unsubscribe", entry: "functions/ws/unsubscribe.ts", name: "WsUnsubscribe" },
  { routeKey: "publish", entry: "functions/ws/publish.ts", name: "WsPublish" },
  { routeKey: "ping", entry: "functions/ws/ping.ts", name: "WsPing" },
  { routeKey: "auth", entry: "functions/ws/auth.ts", name: "WsAuth" },
  { routeKey: "presence.enter", entry: "functions/ws/presenceEnter.ts", name: "WsPresenceEnter" },
  { routeKey: "presence.update", entry: "functions/ws/presenceUpdate.ts", name: "WsPresenceUpdate" },
  { routeKey: "presence.leave", entry: "functions/ws/presenceLeave.ts", name: "WsPresenceLeave" },
];
