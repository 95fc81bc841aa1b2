import { randomUUID } from "node:crypto";
import type { Context } from "aws-lambda";

// Shared by every context: a request's context costs one object, not four closures more.
const noop = () => {};
const remainingTime = () => 29_000;

/**
 * The Lambda `Context` the local stand-ins pass to handlers: the fields handlers and Powertools read, with
 * API Gateway's 29 s integration timeout as the remaining time; the callback methods are no-ops.
 */
export function lambdaContext(functionName: string, requestId: string = randomUUID()): Context {
  return {
    awsRequestId: requestId,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: "1024",
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "local",
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: remainingTime,
    done: noop,
    fail: noop,
    succeed: noop,
  };
}
