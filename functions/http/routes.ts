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
  { routeKey: "$default", entry: "functions/http/notFound.ts", name: "NotFound" },
];
