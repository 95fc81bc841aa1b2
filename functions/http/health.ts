import middy from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { VERSION } from "../../lib/client/version.ts";
import { json } from "../../lib/http/httpHandler.ts";

/**
 * GET /health: liveness, and the package version the bus runs (`eventbus doctor` compares it with its own).
 * No token and no database: it answers 200 whenever the function (or `npm run dev`) runs, so a load
 * balancer or orchestrator restarts only what is really dead.
 */
export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>().handler(async () =>
  json(200, { status: "ok", version: VERSION }, { "cache-control": "no-store" }),
);
