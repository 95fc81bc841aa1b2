import {
  DeleteMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { Sql } from "postgres";
import { DEFAULT_SOURCE } from "../events/cloudEvent.ts";
import { getSubscription } from "./getSubscription.ts";
import { type ParkedRedriveResult, redriveParked } from "./redriveParked.ts";

/** Received attributes may carry list members SendMessage refuses; keep type and value only. */
const sendableAttributes = (attributes: Record<string, MessageAttributeValue>) =>
  Object.fromEntries(
    Object.entries(attributes).map(([name, v]) => [
      name,
      {
        DataType: v.DataType,
        ...(v.StringValue === undefined ? {} : { StringValue: v.StringValue }),
        ...(v.BinaryValue === undefined ? {} : { BinaryValue: v.BinaryValue }),
      },
    ]),
  );

export interface RedriveResult extends ParkedRedriveResult {
  /** Messages moved from the DLQ back to the queue. */
  moved: number;
  /**
   * `true` when the DLQ looked empty and every parked event was tried; `false` when the time budget ran
   * out first (call again to go on).
   */
  drained: boolean;
}

/**
 * Sends a subscription's parked events again (see `redriveParked`), then moves the messages of its DLQ back
 * to its queue, body and attributes unchanged. Each message
 * is deleted from the DLQ only after the queue accepted it, so a crash duplicates, never loses. Works on SQS
 * and on stand-ins that lack `StartMessageMoveTask`. FIFO messages keep their group; they get a fresh
 * deduplication id, or SQS would drop them as duplicates of their first delivery.
 *
 * @throws {EventBusError} `SUBSCRIPTION_NOT_FOUND`.
 */
export async function redriveSubscription(
  sql: Sql,
  sqs: SQSClient,
  name: string,
  options: { timeBudgetMs?: number; source?: string } = {},
): Promise<RedriveResult> {
  const subscription = await getSubscription(sql, name);
  const fifo = subscription.ordering === "stream";
  const budget = options.timeBudgetMs ?? 20_000;
  const deadline = Date.now() + budget;
  const parked = await redriveParked(sql, sqs, subscription, {
    source: options.source ?? DEFAULT_SOURCE,
    signal: AbortSignal.timeout(budget),
  });
  let moved = 0;
  while (Date.now() < deadline) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: subscription.dlqUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ["All"],
        MessageSystemAttributeNames: ["MessageGroupId"],
      }),
    );
    if (Messages.length === 0) return { moved, ...parked, drained: Date.now() < deadline };
    const result = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: subscription.queueUrl,
        Entries: Messages.map((m: Message, i) => ({
          Id: String(i),
          MessageBody: m.Body ?? "",
          ...(m.MessageAttributes ? { MessageAttributes: sendableAttributes(m.MessageAttributes) } : {}),
          ...(fifo
            ? {
                MessageGroupId: m.Attributes?.MessageGroupId ?? "redrive",
                MessageDeduplicationId: `redrive-${m.MessageId}`,
              }
            : {}),
        })),
      }),
    );
    const accepted = new Set((result.Successful ?? []).map((s) => s.Id));
    const done = Messages.map((m, i) => ({ m, id: String(i) })).filter(({ id }) => accepted.has(id));
    if (done.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: subscription.dlqUrl,
          Entries: done.map(({ m, id }) => ({ Id: id, ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
    moved += done.length;
  }
  return { moved, ...parked, drained: false };
}
