import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type { LocalRoute } from "../local/httpAdapter.ts";
import type { MetricsRegistry } from "./registry.ts";

/**
 * `GET /metrics` for `npm run dev`: the registry in Prometheus text format, so any dashboard can scrape the
 * local bus. Local only (loopback, no token); on AWS the same figures go to CloudWatch as EMF.
 */
export function prometheusRoute(registry: MetricsRegistry): LocalRoute {
  return {
    routeKey: "GET /metrics",
    handler: async (): Promise<APIGatewayProxyStructuredResultV2> => {
      try {
        return {
          statusCode: 200,
          headers: {
            "content-type": "text/plain; version=0.0.4; charset=utf-8",
            "cache-control": "no-store",
          },
          body: await registry.prometheus(),
        };
      } catch {
        return { statusCode: 503, headers: { "content-type": "text/plain" }, body: "metrics unavailable\n" };
      }
    },
  };
}
