import { SQSClient } from "@aws-sdk/client-sqs";
import type { EventBusClient } from "../client/client.ts";
import { type SqsLambda, startSqsPoller } from "../local/sqsPoller.ts";
import { localCredentials } from "./localCredentials.ts";

export interface RunConsumerOptions {
  /** Looks up the queue of a subscription given by name. */
  client?: EventBusClient;
  sqs?: SQSClient;
  /** The SQS endpoint, e.g. `http://127.0.0.1:4002` under `npm run dev` (then any credentials do). */
  endpoint?: string;
  region?: string;
  /** Messages per invocation, 1-10 (default 10). */
  batchSize?: number;
  /** Called when an invocation throws (its whole batch returns to the queue, as on Lambda). */
  onError?: (error: unknown) => void;
}

/**
 * Runs a consumer Lambda handler (e.g. one made with `createConsumer`) against a subscription's queue on
 * this machine, as Lambda's SQS event source mapping with `ReportBatchItemFailures` would: long-polls,
 * invokes the handler with an `SQSEvent`, deletes what succeeded and leaves failures for redelivery (and
 * eventually the DLQ). Stop it when the test is done.
 *
 * @example
 * ```ts
 * const consumer = await runConsumer(handler, "audits", { client: bus, endpoint: "http://127.0.0.1:4002" });
 * try { ... } finally { await consumer.stop(); }
 * ```
 */
export async function runConsumer(
  handler: SqsLambda,
  subscription: string | { queueUrl: string },
  options: RunConsumerOptions = {},
): Promise<{ queueUrl: string; stop(): Promise<void> }> {
  let queueUrl: string;
  if (typeof subscription !== "string") queueUrl = subscription.queueUrl;
  else if (options.client) queueUrl = (await options.client.subscriptions.get(subscription)).queueUrl;
  else throw new Error(`runConsumer: pass 'client' to look up the queue of subscription '${subscription}'.`);
  const region = options.region ?? "us-east-1";
  const ownSqs = options.sqs === undefined;
  const sqs =
    options.sqs ??
    new SQSClient({
      region,
      // A stand-in endpoint (npm run dev, LocalStack) accepts any credentials; the shell may have none.
      ...(options.endpoint === undefined
        ? {}
        : { endpoint: options.endpoint, useQueueUrlAsEndpoint: false, credentials: localCredentials }),
    });
  const poller = startSqsPoller({
    sqs,
    queueUrl,
    handler,
    region,
    waitTimeSeconds: 1,
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
    ...(options.onError === undefined ? {} : { onError: options.onError }),
  });
  return {
    queueUrl,
    async stop() {
      await poller.stop();
      if (ownSqs) sqs.destroy();
    },
  };
}
