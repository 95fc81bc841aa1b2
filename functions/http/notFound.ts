import middy from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { EventBusError } from "../../lib/errors.ts";
import { problemResponse } from "../../lib/http/httpHandler.ts";

/** `$default`: any method and path no route matched. Answers before authentication, like API Gateway. */
export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>().handler(
  async (event) =>
    problemResponse(
      new EventBusError(
        "ROUTE_NOT_FOUND",
        `No route for ${event.requestContext.http.method} ${event.rawPath}.`,
      ),
    ),
);
