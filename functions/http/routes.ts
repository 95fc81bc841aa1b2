/**
 * The HTTP API's routes: one Lambda handler module each. The CDK stack and the local adapter both read this
 * table, so the laptop and the cloud serve exactly the same routes with the same code.
 */
export interface HttpRoute {
  /** API Gateway route key, e.g. `POST /streams/{streamId}/events`, or `$default`. */
  routeKey: string;
  /** Module path relative to the repository root; it exports `handler`. */
  entry: string;
  /** A short, unique name used for the CDK function id. */
  name: string;
}

export const httpRoutes: readonly HttpRoute[] = [
  {
    routeKey: "POST /streams/{streamId}/events",
    entry: "functions/http/appendEvents.ts",
    name: "AppendEvents",
  },
  {
    routeKey: "GET /streams/{streamId}/events",
    entry: "functions/http/readStreamEvents.ts",
    name: "ReadStreamEvents",
  },
  { routeKey: "GET /streams/{streamId}", entry: "functions/http/getStream.ts", name: "GetStream" },
  { routeKey: "GET /events", entry: "functions/http/readAllEvents.ts", name: "ReadAllEvents" },
  {
    routeKey: "POST /topics/{topic}/messages",
    entry: "functions/http/publishToTopic.ts",
    name: "PublishToTopic",
  },
  {
    routeKey: "GET /topics/{topic}/presence",
    entry: "functions/http/getTopicPresence.ts",
    name: "GetTopicPresence",
  },
  {
    routeKey: "POST /connections/{connectionId}/messages",
    entry: "functions/http/postToConnection.ts",
    name: "PostToConnection",
  },
  { routeKey: "GET /subscriptions", entry: "functions/http/listSubscriptions.ts", name: "ListSubscriptions" },
  {
    routeKey: "PUT /subscriptions/{name}",
    entry: "functions/http/putSubscription.ts",
    name: "PutSubscription",
  },
  {
    routeKey: "GET /subscriptions/{name}",
    entry: "functions/http/getSubscription.ts",
    name: "GetSubscription",
  },
  {
    routeKey: "DELETE /subscriptions/{name}",
    entry: "functions/http/deleteSubscription.ts",
    name: "DeleteSubscription",
  },
  {
    routeKey: "POST /subscriptions/{name}/replay",
    entry: "functions/http/replaySubscription.ts",
    name: "ReplaySubscription",
  },
  {
    routeKey: "POST /subscriptions/{name}/redrive",
    entry: "functions/http/redriveSubscription.ts",
    name: "RedriveSubscription",
  },
  { routeKey: "GET /streams", entry: "functions/http/listStreams.ts", name: "ListStreams" },
  {
    routeKey: "GET /subscriptions/{name}/parked",
    entry: "functions/http/listParkedEvents.ts",
    name: "ListParkedEvents",
  },
  {
    routeKey: "GET /subscriptions/{name}/dead-letters",
    entry: "functions/http/listDeadLetters.ts",
    name: "ListDeadLetters",
  },
  {
    routeKey: "GET /realtime/connections",
    entry: "functions/http/listConnections.ts",
    name: "ListConnections",
  },
  { routeKey: "GET /health", entry: "functions/http/health.ts", name: "Health" },
  { routeKey: "GET /health/ready", entry: "functions/http/healthReady.ts", name: "HealthReady" },
  { routeKey: "GET /captures", entry: "functions/http/listCaptures.ts", name: "ListCaptures" },
  { routeKey: "PUT /captures/{name}", entry: "functions/http/putCapture.ts", name: "PutCapture" },
  { routeKey: "GET /captures/{name}", entry: "functions/http/getCapture.ts", name: "GetCapture" },
  { routeKey: "DELETE /captures/{name}", entry: "functions/http/deleteCapture.ts", name: "DeleteCapture" },
  { routeKey: "GET /openapi.json", entry: "functions/http/openApi.ts", name: "OpenApi" },
  { routeKey: "GET /asyncapi.json", entry: "functions/http/asyncApi.ts", name: "AsyncApi" },
  { routeKey: "GET /docs", entry: "functions/http/apiDocsPage.ts", name: "ApiDocsPage" },
  { routeKey: "GET /operators", entry: "functions/http/listOperators.ts", name: "ListOperators" },
  { routeKey: "GET /operators/{name}", entry: "functions/http/getOperator.ts", name: "GetOperator" },
  {
    routeKey: "POST /operators/{name}/replay",
    entry: "functions/http/replayOperator.ts",
    name: "ReplayOperator",
  },
  { routeKey: "GET /console", entry: "functions/http/console.ts", name: "Console" },
  { routeKey: "GET /console/{file+}", entry: "functions/http/console.ts", name: "ConsoleFile" },
  { routeKey: "$default", entry: "functions/http/notFound.ts", name: "NotFound" },
];
