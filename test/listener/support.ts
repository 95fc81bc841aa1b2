import { randomBytes } from "node:crypto";
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { inject } from "vitest";
import type { EventBusCloudEvent } from "../../lib/events/types.ts";

/** A real SDK client against the run's SQS stand-in. */
export const createSqsClient = () =>
  new SQSClient({
    endpoint: inject("sqsEndpoint"),
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });

/** A queue prefix no other test file uses. */
export const uniquePrefix = (label: string) => `t${randomBytes(3).toString("hex")}-${label}-`;

export interface Received {
  event: EventBusCloudEvent;
  groupId: string | undefined;
  attributes: Record<string, string | undefined>;
}

/**
 * Receives (and deletes) messages from a queue as a consumer would, until `count` have arrived or the
 * timeout passes; then keeps listening `settleMs` longer to catch anything extra (duplicates).
 */
export async function receiveEvents(
  sqs: SQSClient,
  queueUrl: string,
  count: number,
  options: { timeoutMs?: number; settleMs?: number } = {},
): Promise<Received[]> {
  const received: Received[] = [];
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  let settleUntil = Number.POSITIVE_INFINITY;
  while (Date.now() < Math.min(deadline, settleUntil)) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageAttributeNames: ["All"],
        MessageSystemAttributeNames: ["All"],
      }),
    );
    for (const m of Messages) {
      received.push({
        event: JSON.parse(m.Body!) as EventBusCloudEvent,
        groupId: m.Attributes?.MessageGroupId,
        attributes: Object.fromEntries(
          Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue]),
        ),
      });
    }
    if (Messages.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
    if (received.length >= count && settleUntil === Number.POSITIVE_INFINITY) {
      settleUntil = Date.now() + (options.settleMs ?? 0);
    }
  }
  return received;
}
