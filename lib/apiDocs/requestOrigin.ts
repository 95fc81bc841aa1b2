import type { APIGatewayProxyEventV2 } from "aws-lambda";

/**
 * The origin the client called (`https://abc.execute-api.eu-west-1.amazonaws.com`, or
 * `http://localhost:4000` under `npm run dev`), so the served documents name the server they came from.
 * API Gateway sets `x-forwarded-proto`; without it the call was plain HTTP.
 */
export function requestOrigin(event: APIGatewayProxyEventV2): string | undefined {
  const host = event.requestContext?.domainName;
  if (!host) return undefined;
  const proto = event.headers?.["x-forwarded-proto"] === "https" ? "https" : "http";
  return `${proto}://${host}`;
}
