/**
 * What each route's function may touch beyond Postgres and the token secret (every handler's runtime reads
 * both). Kept beside the stack rather than in the route manifests so that the manifests stay pure and the
 * least-privilege decisions are reviewable in one place. A route not matched here gets nothing extra: a
 * new route fails closed (AccessDenied in its logs) rather than open.
 */
export type Capability =
  /** GetQueueAttributes/GetQueueUrl on the subscription queues (depth, DLQ depth). */
  | "subscriptionQueues:read"
  /** Create, configure and delete subscription queues and their DLQs. */
  | "subscriptionQueues:manage"
  /** Move messages from a subscription's DLQ back to its queue. */
  | "subscriptionQueues:redrive"
  /** ReceiveMessage alone: look at a subscription's DLQ messages (visibility timeout 0) and leave them. */
  | "subscriptionQueues:peek"
  /** SendMessage on the realtime fan-out queue (ephemeral broadcasts). */
  | "realtimeQueue:send"
  /** Read and write the realtime table (connections, topic memberships). */
  | "realtimeTable"
  /** execute-api:ManageConnections on the WebSocket API (PostToConnection, GetConnection, DeleteConnection). */
  | "manageConnections";

const httpRules: Array<{ test: (method: string, path: string) => boolean; capabilities: Capability[] }> = [
  {
    test: (_method, path) => path.startsWith("/subscriptions") && path.endsWith("/redrive"),
    capabilities: ["subscriptionQueues:read", "subscriptionQueues:redrive"],
  },
  {
    test: (_method, path) => path.startsWith("/subscriptions") && path.endsWith("/dead-letters"),
    capabilities: ["subscriptionQueues:read", "subscriptionQueues:peek"],
  },
  {
    test: (method, path) => path.startsWith("/subscriptions") && (method === "PUT" || method === "DELETE"),
    capabilities: ["subscriptionQueues:read", "subscriptionQueues:manage"],
  },
  { test: (_, path) => path.startsWith("/subscriptions"), capabilities: ["subscriptionQueues:read"] },
  // Reads the topic's presence items, asks API Gateway about members whose connection may be gone
  // (GetConnection) and removes those it reports gone.
  {
    test: (_, path) => path.startsWith("/topics/") && path.endsWith("/presence"),
    capabilities: ["realtimeTable", "manageConnections"],
  },
  { test: (_, path) => path.startsWith("/topics/"), capabilities: ["realtimeQueue:send"] },
  // The console's connection listing scans the realtime table (read-only would do; the grant is per table).
  { test: (_, path) => path === "/realtime/connections", capabilities: ["realtimeTable"] },
  {
    test: (_, path) => path.startsWith("/connections/"),
    capabilities: ["realtimeTable", "manageConnections"],
  },
];

/** Capabilities of the function behind an HTTP API route key such as `PUT /subscriptions/{name}`. */
export function httpRouteCapabilities(routeKey: string): Capability[] {
  const [method = "", path = ""] = routeKey.split(" ");
  return httpRules.find((rule) => rule.test(method, path))?.capabilities ?? [];
}

const wsRules: Record<string, Capability[]> = {
  // Registers the connection; a rejected token never reaches the table.
  $connect: ["realtimeTable"],
  // ... and tells the members of its presences that it left.
  $disconnect: ["realtimeTable", "manageConnections"],
  // Replies and (for `from`) history are sent with PostToConnection.
  subscribe: ["realtimeTable", "manageConnections"],
  unsubscribe: ["realtimeTable", "manageConnections"],
  publish: ["realtimeTable", "realtimeQueue:send", "manageConnections"],
  ping: ["realtimeTable", "manageConnections"],
  // A fresh token: rewrites the connection and its memberships; closes it when the old one expired.
  auth: ["realtimeTable", "manageConnections"],
  // Presence: the table, and posts of the sync and of diffs to the other members.
  "presence.enter": ["realtimeTable", "manageConnections"],
  "presence.update": ["realtimeTable", "manageConnections"],
  "presence.leave": ["realtimeTable", "manageConnections"],
  // Error frames for unknown actions.
  $default: ["realtimeTable", "manageConnections"],
};

/** Capabilities of the function behind a WebSocket API route key (`$connect`, `subscribe`, ...). */
export function wsRouteCapabilities(routeKey: string): Capability[] {
  return wsRules[routeKey] ?? [];
}
