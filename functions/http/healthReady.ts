import middy from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { checkReadiness } from "../../lib/console/checkReadiness.ts";
import { json } from "../../lib/http/httpHandler.ts";
import { getRuntime } from "../shared/runtime.ts";

/**
 * GET /health/ready: 200 when Postgres answers and a listener's heartbeat is fresh, else 503, with a small
 * JSON body saying which. No token, like any readiness probe; it names listeners but nothing else.
 */
export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>().handler(
  async () => {
    let sql: Awaited<ReturnType<typeof getRuntime>>["sql"];
    try {
      ({ sql } = await getRuntime());
    } catch {
      return json(503, { status: "unavailable", database: "unreachable", listeners: [] }, noStore);
    }
    const readiness = await checkReadiness(sql, { maxHeartbeatAgeSeconds: 30, timeoutMs: 2_000 });
    const { ready, ...body } = readiness;
    return json(ready ? 200 : 503, { status: ready ? "ready" : "unavailable", ...body }, noStore);
  },
);

const noStore = { "cache-control": "no-store" };
