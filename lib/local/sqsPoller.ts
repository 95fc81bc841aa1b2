import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { lambdaContext } from "./lambdaContext.ts";

export type SqsLambda = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined | void>;

export interface SqsPollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  handler: SqsLambda;
  /** Messages per invocation, 1–10 (Lambda's event source mapping allows more; SQS returns 10 at most). */
  batchSize?: number;
  /** Parallel pollers; a FIFO queue still hands out each message group to one of them at a time. */
  concurrency?: number;
  waitTimeSeconds?: number;
  region?: string;
  /** Called when an invocation throws (the whole batch then returns to the queue, as on Lambda). */
  onError?: (error: unknown) => void;
}

function queueArn(queueUrl: string, region: string): string {
  // Not `new URL`: stand-ins hand out hosts like `sqs.us-east-1.127.0.0.1`, which WHATWG URLs reject.
  const [account = "000000000000", name = "queue"] = queueUrl.split("/").filter(Boolean).slice(-2);
  return `arn:aws:sqs:${region}:${account}:${name}`;
}

function toRecord(message: Message, arn: string, region: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  const messageAttributes: SQSRecord["messageAttributes"] = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: value.DataType ?? "String",
      ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
      ...(value.BinaryValue === undefined
        ? {}
        : { binaryValue: Buffer.from(value.BinaryValue).toString("base64") }),
      stringListValues: [],
      binaryListValues: [],
    };
  }
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? "",
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? "1",
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? "local",
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...(attributes.MessageGroupId ? { MessageGroupId: attributes.MessageGroupId } : {}),
      ...(attributes.MessageDeduplicationId
        ? { MessageDeduplicationId: attributes.MessageDeduplicationId }
        : {}),
      ...(attributes.SequenceNumber ? { SequenceNumber: attributes.SequenceNumber } : {}),
    },
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? "",
    eventSource: "aws:sqs",
    eventSourceARN: arn,
    awsRegion: region,
  };
}

/**
 * A local stand-in for Lambda's SQS event source mapping with `ReportBatchItemFailures`: long-polls the
 * queue, invokes the unmodified handler with an `SQSEvent`, deletes the messages that succeeded, and leaves
 * the rest (all of them if the handler throws) to reappear after their visibility timeout, so that
 * `maxReceiveCount` and the DLQ work as on AWS.
 */
export function startSqsPoller(options: SqsPollerOptions): { stop(): Promise<void> } {
  const region = options.region ?? "us-east-1";
  const arn = queueArn(options.queueUrl, region);
  const abort = new AbortController();
  let running = true;

  async function loop() {
    while (running) {
      let messages: Message[] = [];
      try {
        const received = await options.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: options.queueUrl,
            MaxNumberOfMessages: options.batchSize ?? 10,
            WaitTimeSeconds: options.waitTimeSeconds ?? 20,
            MessageSystemAttributeNames: ["All"],
            MessageAttributeNames: ["All"],
          }),
          { abortSignal: abort.signal },
        );
        messages = received.Messages ?? [];
      } catch (error) {
        if (!running) return;
        options.onError?.(error);
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      if (messages.length === 0) continue;
      const event: SQSEvent = { Records: messages.map((m) => toRecord(m, arn, region)) };
      let failed = new Set<string>();
      try {
        const result = await options.handler(event, lambdaContext(arn.split(":").at(-1)!));
        failed = new Set((result?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      } catch (error) {
        options.onError?.(error);
        failed = new Set(messages.map((m) => m.MessageId!));
      }
      const done = messages.filter((m) => !failed.has(m.MessageId!));
      if (done.length > 0) {
        await options.sqs
          .send(
            new DeleteMessageBatchCommand({
              QueueUrl: options.queueUrl,
              Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
            }),
          )
          .catch((error) => options.onError?.(error));
      }
    }
  }

  const loops = Array.from({ length: options.concurrency ?? 1 }, () => loop());
  return {
    async stop() {
      running = false;
      abort.abort();
      await Promise.allSettled(loops);
    },
  };
}
