import { Tracer } from "@aws-lambda-powertools/tracer";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import type { MiddlewareObj } from "@middy/core";

/**
 * A Powertools tracer (AWS X-Ray) for one Lambda function. Off unless `enabled`: the caller reads
 * `POWERTOOLS_TRACE_ENABLED` / the function's tracing setting at the edge; locally it stays off, so
 * `npm run dev` needs no X-Ray daemon.
 */
export function createTracer(options: { serviceName: string; enabled: boolean }): Tracer {
  return new Tracer({
    serviceName: options.serviceName,
    enabled: options.enabled,
    captureHTTPsRequests: false,
  });
}

/**
 * Middy middleware that opens the handler's subsegment, records cold starts and annotates errors; add it
 * with `.use(traceHandler(tracer))`. The AWS SDK clients are traced with `tracer.captureAWSv3Client(client)`.
 */
export const traceHandler = (tracer: Tracer): MiddlewareObj =>
  captureLambdaHandler(tracer, { captureResponse: false }) as MiddlewareObj;
