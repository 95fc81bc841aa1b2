import { Logger } from "@aws-lambda-powertools/logger";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { escapeForSqs } from "../../lib/listener/cloudEventJson.ts";
import { createLambdaMetrics } from "../../lib/metrics/lambdaMetrics.ts";
import { metrics } from "../../lib/metrics/registry.ts";
import { broadcastBatch } from "../../lib/realtime/broadcastBatch.ts";
import type { FanoutMessage } from "../../lib/realtime/fanoutMessage.ts";
import { managementApiFor, realtimeTable } from "../../lib/realtime/wsHandler.ts";
import { getRuntime } from "../shared/runtime.ts";

const logger = new Logger({ serviceName: "eventbus-broadcaster" });
// On Lambda the fan-out figures (latency per message, failed posts) go to CloudWatch as EMF, flushed
// after each invocation.
const lambdaMetrics = process.env.AWS_LAMBDA_FUNCTION_NAME
  ? createLambdaMetrics(metrics, {
      bus: process.env.EVENTBUS_NAME ?? "eventbus",
      serviceName: "eventbus-broadcaster",
    })
  : undefined;

/**
 * Drains the realtime fan-out queue (live event batches from the listener, ephemeral publishes) into the
 * WebSocket connections (see `broadcastBatch` for the order of records). A record whose subscribers could not be read is
 * reported as a partial batch failure and retried by SQS.
 */
export const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const runtime = await getRuntime();
  const queueUrl = runtime.config.EVENTBUS_REALTIME_QUEUE_URL;
  const deps = {
    table: realtimeTable(runtime),
    api: managementApiFor(runtime.config),
    // Large topics are posted to by several invocations at once, through the queue this one drains.
    ...(queueUrl
      ? {
          handOff: async (messages: FanoutMessage[]) => {
            await Promise.all(
              messages.map((message) =>
                runtime.sqs.send(
                  new SendMessageCommand({
                    QueueUrl: queueUrl,
                    MessageBody: escapeForSqs(JSON.stringify(message)),
                  }),
                ),
              ),
            );
          },
        }
      : {}),
    onHandOffError: (error: unknown) =>
      logger.warn("hand-off failed; posting to all", { error: error as Error }),
    onPostError: (error: unknown, connectionId: string) =>
      logger.warn("post to connection failed", { connectionId, error: error as Error }),
  };
  const failed = await broadcastBatch(deps, event.Records, (messageId, error) =>
    logger.error("fan-out failed", { messageId, error: error as Error }),
  );
  lambdaMetrics?.metrics.publishStoredMetrics();
  return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
};
