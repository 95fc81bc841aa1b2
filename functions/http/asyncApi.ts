import middy from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { asyncApiDocument } from "../../lib/apiDocs/asyncApi.ts";
import { json } from "../../lib/http/httpHandler.ts";

/** GET /asyncapi.json: the AsyncAPI 3 document of the WebSocket frames and the SQS messages. Public. */
export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>().handler(async () =>
  json(200, asyncApiDocument(), { "cache-control": "public, max-age=300" }),
);
