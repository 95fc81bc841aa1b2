import middy from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { openApiDocument } from "../../lib/apiDocs/openApi.ts";
import { requestOrigin } from "../../lib/apiDocs/requestOrigin.ts";
import { json } from "../../lib/http/httpHandler.ts";
import { httpRoutes } from "./routes.ts";

const routeKeys = httpRoutes.map((route) => route.routeKey);

/** GET /openapi.json: the HTTP API's OpenAPI 3.1 document. Public, like the API's shape itself. */
export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>().handler(
  async (event) => {
    const serverUrl = requestOrigin(event);
    return json(200, openApiDocument({ routeKeys, ...(serverUrl ? { serverUrl } : {}) }), {
      "cache-control": "public, max-age=300",
    });
  },
);
