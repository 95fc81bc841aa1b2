import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSEvent } from "aws-lambda";
import { afterAll, describe, expect, inject, it } from "vitest";
import { startSqsPoller } from "../../lib/local/sqsPoller.ts";

const sqs = new SQSClient({
  endpoint: inject("sqsEndpoint"),
  region: "us-east-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});
afterAll(() => sqs.destroy());

async function depth(queueUrl: string): Promise<number> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return (
    Number(Attributes?.ApproximateNumberOfMessages) +
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible)
  );
}

describe("local SQS event source", () => {
  it("invokes the handler with SQS records and deletes only what succeeded", async () => {
    const name = `poller-${Date.now()}`;
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
    const dlqArn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl!, AttributeNames: ["QueueArn"] }))
    ).Attributes!.QueueArn!;
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({
        QueueName: name,
        Attributes: {
          VisibilityTimeout: "1",
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 2 }),
        },
      }),
    );
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: QueueUrl!,
        Entries: ["ok-1", "poison", "ok-2"].map((body, i) => ({
          Id: String(i),
          MessageBody: body,
          MessageAttributes: { type: { DataType: "String", StringValue: "t" } },
        })),
      }),
    );
    const seen: string[] = [];
    const poller = startSqsPoller({
      sqs,
      queueUrl: QueueUrl!,
      waitTimeSeconds: 1,
      handler: async (event: SQSEvent) => {
        seen.push(...event.Records.map((r) => r.body));
        expect(event.Records[0]!.messageAttributes.type!.stringValue).toBe("t");
        return {
          batchItemFailures: event.Records.filter((r) => r.body === "poison").map((r) => ({
            itemIdentifier: r.messageId,
          })),
        };
      },
    });
    await expect.poll(() => depth(dlq.QueueUrl!), { timeout: 10_000, interval: 200 }).toBe(1);
    await poller.stop();
    expect(seen.filter((b) => b === "poison")).toHaveLength(2);
    expect(seen.filter((b) => b === "ok-1")).toHaveLength(1);
    expect(await depth(QueueUrl!)).toBe(0);
  });
});
