import { DeleteQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSubscription } from "../../lib/subscriptions/createSubscription.ts";
import { parseSubscriptionDefinition } from "../../lib/subscriptions/definition.ts";
import { createSubscriptionQueues } from "../../lib/subscriptions/subscriptionQueues.ts";
import { createSqsClient, uniquePrefix } from "../listener/support.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startSqsErrorStandIn } from "../support/sqsErrorStandIn.ts";

const sqs = createSqsClient();
const prefix = uniquePrefix("restore");
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.close();
  sqs.destroy();
});

const put = (name: string, queuePrefix = prefix) =>
  createSubscription(db.sql, sqs, {
    name,
    definition: parseSubscriptionDefinition({ ordering: "stream", maxReceiveCount: 3 }),
    queuePrefix,
  });
const exists = (queueName: string) =>
  sqs.send(new GetQueueUrlCommand({ QueueName: queueName })).then(
    () => true,
    () => false,
  );

describe("a repeated PUT of a subscription whose queues were deleted outside the bus", () => {
  it("re-creates the queue and its DLQ under their names, with the redrive policy between them", async () => {
    const { subscription } = await put("both-gone");
    await sqs.send(new DeleteQueueCommand({ QueueUrl: subscription.queueUrl }));
    await sqs.send(new DeleteQueueCommand({ QueueUrl: subscription.dlqUrl }));
    expect(await exists(`${prefix}both-gone.fifo`)).toBe(false);

    const again = await put("both-gone");
    expect(again).toMatchObject({ created: false, subscription: { queueUrl: subscription.queueUrl } });
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: subscription.queueUrl, AttributeNames: ["All"] }),
    );
    expect(Attributes?.FifoQueue).toBe("true");
    expect(JSON.parse(Attributes!.RedrivePolicy!)).toMatchObject({
      deadLetterTargetArn: expect.stringMatching(new RegExp(`:${prefix}both-gone-dlq\\.fifo$`)),
      maxReceiveCount: 3,
    });
  });

  it("creates nothing under names the subscription does not use (the bus's queue prefix changed)", async () => {
    const { subscription } = await put("renamed");
    await sqs.send(new DeleteQueueCommand({ QueueUrl: subscription.queueUrl }));
    const otherPrefix = uniquePrefix("other");
    expect(await put("renamed", otherPrefix)).toMatchObject({ created: false });
    expect(await exists(`${otherPrefix}renamed.fifo`)).toBe(false);
    expect(await exists(`${otherPrefix}renamed-dlq.fifo`)).toBe(false);
    expect(await exists(`${prefix}renamed.fifo`)).toBe(false);
  });
});

describe("a queue name SQS has not released yet", () => {
  it("is a 503 UNAVAILABLE that says to retry after 60 s, not a server error", async () => {
    // What SQS answers to CreateQueue within 60 s of deleting a queue of that name.
    const recent = await startSqsErrorStandIn({
      status: 400,
      code: "QueueDeletedRecently",
      queryCode: "AWS.SimpleQueueService.QueueDeletedRecently",
      message:
        "You must wait 60 seconds after deleting a queue before you can create another with the same name.",
    });
    try {
      await expect(
        createSubscriptionQueues(recent.sqs, prefix, "recent", parseSubscriptionDefinition({})),
      ).rejects.toMatchObject({
        code: "UNAVAILABLE",
        status: 503,
        details: { retryAfterSeconds: 60, queueName: `${prefix}recent-dlq` },
      });
    } finally {
      recent.close();
    }
  });
});
