import type { SQSClient } from "@aws-sdk/client-sqs";
import type { Sql } from "postgres";
import { getSubscription } from "./getSubscription.ts";
import { deleteQueues } from "./subscriptionQueues.ts";

/**
 * Deletes a subscription, its checkpoint, its queue and its DLQ (with any messages in them). The listener
 * that owns it stops forwarding within a claim interval; a send it still has in flight fails harmlessly.
 * Note that SQS refuses to re-create a queue of the same name for 60 seconds after deleting it.
 *
 * @throws {EventBusError} `SUBSCRIPTION_NOT_FOUND`.
 */
export async function deleteSubscription(sql: Sql, sqs: SQSClient, name: string): Promise<void> {
  const subscription = await getSubscription(sql, name);
  await sql.begin(async (tx) => {
    await tx`delete from eventbus.subscriptions where name = ${name}`;
    await tx`delete from eventbus.checkpoints where name = ${name}`;
  });
  await deleteQueues(sqs, [subscription.queueUrl, subscription.dlqUrl]);
}
