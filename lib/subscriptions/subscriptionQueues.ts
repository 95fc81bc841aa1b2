import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  type QueueAttributeName,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { EventBusError } from "../errors.ts";
import { queueNames, type SubscriptionDefinition } from "./definition.ts";

/** SQS's maximum, so a DLQ outlives the messages that reach it from its source queue. */
const DLQ_RETENTION_SECONDS = 14 * 24 * 60 * 60;
const QUEUE_RETENTION_SECONDS = 4 * 24 * 60 * 60;

const errorName = (error: unknown) => (error as { name?: string }).name ?? "";

async function createQueue(
  sqs: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<string> {
  try {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    return QueueUrl!;
  } catch (error) {
    // SQS refuses a queue's name for 60 s after the queue was deleted: say when to try again.
    if (/QueueDeletedRecently/.test(errorName(error))) {
      throw new EventBusError(
        "UNAVAILABLE",
        `The queue '${name}' was deleted less than 60 s ago, and SQS does not take its name back until then. Retry after 60 s.`,
        { queueName: name, retryAfterSeconds: 60 },
        { cause: error },
      );
    }
    // The SDK names it QueueNameExists; the JSON protocol's code is QueueAlreadyExists.
    if (/QueueNameExists|QueueAlreadyExists/.test(errorName(error))) {
      throw new EventBusError(
        "SUBSCRIPTION_CONFLICT",
        `The queue '${name}' already exists with different settings.`,
        { queueName: name },
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * Creates (idempotently) a subscription's queue and its DLQ, wired by a redrive policy. Ordered
 * subscriptions get FIFO queues without content-based deduplication: the listener sends the event id as the
 * deduplication id.
 */
export async function createSubscriptionQueues(
  sqs: SQSClient,
  queuePrefix: string,
  name: string,
  definition: SubscriptionDefinition,
): Promise<{ queueUrl: string; dlqUrl: string }> {
  const names = queueNames(queuePrefix, name, definition.ordering);
  const fifo: Record<string, string> =
    definition.ordering === "stream" ? { FifoQueue: "true", ContentBasedDeduplication: "false" } : {};
  const dlqUrl = await createQueue(sqs, names.dlq, {
    ...fifo,
    MessageRetentionPeriod: String(DLQ_RETENTION_SECONDS),
  });
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ["QueueArn"] }),
  );
  const queueUrl = await createQueue(sqs, names.queue, {
    ...fifo,
    MessageRetentionPeriod: String(QUEUE_RETENTION_SECONDS),
    VisibilityTimeout: String(definition.visibilityTimeout),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: Attributes!.QueueArn,
      maxReceiveCount: definition.maxReceiveCount,
    }),
  });
  return { queueUrl, dlqUrl };
}

/**
 * Re-creates a subscription's queue or DLQ that was deleted outside the bus, under its names and with its
 * settings, so that the listener (which retries sends to a missing queue until it is back) delivers what
 * waited. Queues that exist are left as they are, and nothing is created under names the subscription does
 * not use (the bus's queue prefix may have changed since it was created).
 *
 * @throws {EventBusError} `SUBSCRIPTION_CONFLICT` when the queue that remains has other settings than the
 *   bus gives it; `UNAVAILABLE` within 60 s of the deletion (SQS holds a deleted queue's name that long).
 */
export async function restoreMissingQueues(
  sqs: SQSClient,
  queuePrefix: string,
  subscription: SubscriptionDefinition & { name: string; queueUrl: string; dlqUrl: string },
): Promise<void> {
  const [queue, dlq] = await Promise.all([
    readQueueDepth(sqs, subscription.queueUrl),
    readQueueDepth(sqs, subscription.dlqUrl),
  ]);
  if (queue && dlq) return;
  const names = queueNames(queuePrefix, subscription.name, subscription.ordering);
  const lastSegment = (url: string) => url.slice(url.lastIndexOf("/") + 1);
  if (lastSegment(subscription.queueUrl) !== names.queue || lastSegment(subscription.dlqUrl) !== names.dlq) {
    return;
  }
  await createSubscriptionQueues(sqs, queuePrefix, subscription.name, subscription);
}

/** Deletes the given queues; a queue that is already gone is not an error. */
export async function deleteQueues(sqs: SQSClient, queueUrls: readonly string[]): Promise<void> {
  await Promise.all(
    queueUrls.map((url) =>
      sqs.send(new DeleteQueueCommand({ QueueUrl: url })).catch((error) => {
        if (!/NonExistentQueue|QueueDoesNotExist/.test(errorName(error))) throw error;
      }),
    ),
  );
}

export interface QueueDepth {
  /** Messages waiting to be received. */
  visible: number;
  /** Messages received and not yet deleted (in flight). */
  inFlight: number;
}

/** SQS's approximate counts for a queue, or `null` when the queue does not exist. */
export async function readQueueDepth(sqs: SQSClient, queueUrl: string): Promise<QueueDepth | null> {
  const names: QueueAttributeName[] = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
  ];
  try {
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: names }),
    );
    return {
      visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
    };
  } catch (error) {
    if (/NonExistentQueue|QueueDoesNotExist/.test(errorName(error))) return null;
    throw error;
  }
}
