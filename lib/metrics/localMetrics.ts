import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Sql } from "postgres";
import type { LocalRoute } from "../local/httpAdapter.ts";
import { collectBusMetrics, describeBusMetrics } from "./busMetrics.ts";
import { recordHttpRequest } from "./httpMetrics.ts";
import { prometheusRoute } from "./prometheusRoute.ts";
import type { MetricsRegistry } from "./registry.ts";

export interface LocalMetrics {
  /** `GET /metrics`. */
  route: LocalRoute;
  /** For the HTTP adapter's `observe` option: request counts and latency, and appends. */
  observe(routeKey: string, status: number, seconds: number): void;
  stop(): void;
}

/**
 * The metrics of `npm run dev`: every bus metric declared, HTTP requests observed by the local adapter,
 * and the scrape-time gauges read from Postgres, SQS and the realtime table through clients of its own
 * (endpoints from the environment the handlers use).
 */
export function startLocalMetrics(options: {
  registry: MetricsRegistry;
  sql: Sql;
  region: string;
  realtimeTableName?: string;
}): LocalMetrics {
  const { registry } = options;
  describeBusMetrics(registry);
  const sqs = new SQSClient({ region: options.region, useQueueUrlAsEndpoint: false });
  const dynamo = options.realtimeTableName
    ? DynamoDBDocumentClient.from(new DynamoDBClient({ region: options.region }))
    : undefined;
  const unsubscribe = registry.collect(() =>
    collectBusMetrics(registry, {
      sql: options.sql,
      sqs,
      ...(dynamo && options.realtimeTableName
        ? { realtime: { dynamo, tableName: options.realtimeTableName } }
        : {}),
    }),
  );
  return {
    route: prometheusRoute(registry),
    observe(routeKey, status, seconds) {
      recordHttpRequest(registry, routeKey, status, seconds);
    },
    stop() {
      unsubscribe();
      sqs.destroy();
      dynamo?.destroy();
    },
  };
}
