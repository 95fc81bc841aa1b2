import { Logger } from "@aws-lambda-powertools/logger";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { type Config, parseConfig } from "../../lib/config.ts";
import { escapeForSqs } from "../../lib/listener/cloudEventJson.ts";
import { createLambdaMetrics } from "../../lib/metrics/lambdaMetrics.ts";
import { metrics } from "../../lib/metrics/registry.ts";
import type { BroadcastDeps } from "../../lib/realtime/broadcast.ts";
import { broadcastBatch } from "../../lib/realtime/broadcastBatch.ts";
import type { FanoutMessage } from "../../lib/realtime/fanoutMessage.ts";
import { managementApiFor, realtimeTable } from "../../lib/realtime/wsHandler.ts";

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
 * Built once per execution environment. Not the shared HTTP runtime (`functions/shared/runtime.ts`): the
 * broadcaster needs neither Postgres nor a token verifier (whose secret that runtime reads at a cold
 * start), and that module loads the X-Ray tracer, whose context tracking (an async hook with `destroy`
 * on every promise) cost the broadcaster about a third of its CPU per post.
 */
interface BroadcasterRuntime {
  config: Config;
  sqs: SQSClient;
  deps: BroadcastDeps;
}
let runtime: BroadcasterRuntime | undefined;

function broadcasterRuntime(): BroadcasterRuntime {
  if (runtime) return runtime;
  const config = parseConfig(process.env);
  // Queue URLs are used as given, never as the endpoint (local stand-ins hand out URLs whose host is not
  // the endpoint's); endpoints come from the SDK's own settings (AWS_ENDPOINT_URL_SQS, ...).
  const sqs = new SQSClient({ region: config.AWS_REGION, useQueueUrlAsEndpoint: false });
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ region: config.AWS_REGION }), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const queueUrl = config.EVENTBUS_REALTIME_QUEUE_URL;
  const deps: BroadcastDeps = {
    table: realtimeTable({ config, dynamo }),
    api: managementApiFor(config),
    // Large topics are posted to by several invocations at once, through the queue this one drains.
    ...(queueUrl
      ? {
          handOff: async (messages: FanoutMessage[]) => {
            await Promise.all(
              messages.map((message) =>
                sqs.send(
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
  runtime = { config, sqs, deps };
  return runtime;
}

/**
 * Drains the realtime fan-out queue (live event batches from the listener, ephemeral publishes) into the
 * WebSocket connections (see `broadcastBatch` for the order of records). A record whose subscribers could
 * not be read is reported as a partial batch failure and retried by SQS.
 */
export const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const { deps } = broadcasterRuntime();
  const failed = await broadcastBatch(deps, event.Records, (messageId, error) =>
    logger.error("fan-out failed", { messageId, error: error as Error }),
  );
  lambdaMetrics?.metrics.publishStoredMetrics();
  return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
};
