import type { MetricsRegistry } from "./registry.ts";

const APPEND_ROUTE = "POST /streams/{streamId}/events";

/**
 * Records one HTTP request: request count and latency by route and status, and for a successful append the
 * `Appends` / `AppendLatency` figures of the dashboard. The same on Lambda (EMF) and in `npm run dev`.
 */
export function recordHttpRequest(
  registry: MetricsRegistry,
  routeKey: string,
  status: number,
  seconds: number,
) {
  registry.count("eventbus_http_requests_total", { route: routeKey, status: String(status) });
  registry.observe("eventbus_http_request_duration_seconds", { route: routeKey }, seconds);
  if (routeKey === APPEND_ROUTE && status === 201) {
    registry.count("eventbus_appends_total");
    registry.observe("eventbus_append_duration_seconds", {}, seconds);
  }
}
