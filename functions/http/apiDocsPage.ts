import middy from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { asyncApiDocument } from "../../lib/apiDocs/asyncApi.ts";
import { renderDocsPage } from "../../lib/apiDocs/docsPage.ts";
import { openApiDocument } from "../../lib/apiDocs/openApi.ts";
import { httpRoutes } from "./routes.ts";

/** Rendered once per cold start: the documents only change with a deployment. */
const page = renderDocsPage(
  openApiDocument({ routeKeys: httpRoutes.map((route) => route.routeKey) }),
  asyncApiDocument(),
);

/** GET /docs: the readable reference of both documents. Public; the page loads nothing from elsewhere. */
export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>().handler(
  async () => ({
    statusCode: 200,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "public, max-age=300",
      // The page is static: no script runs, and it may only use its own inline styles.
      "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    },
    body: page,
  }),
);
