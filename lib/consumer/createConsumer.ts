import {
  BatchProcessor,
  EventType,
  processPartialResponse,
  SqsFifoPartialProcessorAsync,
} from "@aws-lambda-powertools/batch";
import middy from "@middy/core";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { EventBusCloudEvent } from "../events/types.ts";
import { continueTrace } from "../tracing/traceparent.ts";

/** What a consumer learns about the delivery besides the event. */
export interface ConsumerContext {
  record: SQSRecord;
  lambdaContext: Context;
  /** 1 on the first delivery; above 1 when SQS redelivers (after a failure or a visibility timeout). */
  receiveCount: number;
  /**
   * The trace the event belongs to (its `traceparent` attribute), as W3C `traceparent` and X-Ray header, so
   * the consumer's own spans or outgoing calls continue it; `undefined` for an untraced event.
   */
  trace: ReturnType<typeof continueTrace>;
}

export type EventConsumer = (event: EventBusCloudEvent, context: ConsumerContext) => Promise<void>;

const isFifo = (event: SQSEvent) =>
  event.Records.some((r) => r.attributes.MessageGroupId !== undefined || r.eventSourceARN.endsWith(".fifo"));

/**
 * Wraps a typed event consumer into an SQS Lambda handler (configure the event source mapping with
 * `ReportBatchItemFailures`). Each message is parsed as the CloudEvent the bus sent; a consumer that throws
 * fails only its own message, which SQS redelivers and eventually moves to the DLQ. On FIFO queues
 * (ordered subscriptions) messages are handled one at a time in order, and after a failure the rest of
 * that stream's messages in the batch are failed too, so no event overtakes an earlier one of its stream;
 * other streams go on. Delivery is at least once: make consumers idempotent (the event `id` is stable).
 *
 * @example
 * ```ts
 * export const handler = createConsumer(async (event) => {
 *   if (event.type === "OrderPlaced") await reserveStock(event.data);
 * });
 * ```
 */
export function createConsumer(consumer: EventConsumer) {
  const handleRecord = async (record: SQSRecord, lambdaContext: Context) => {
    const event = JSON.parse(record.body) as EventBusCloudEvent;
    await consumer(event, {
      record,
      lambdaContext,
      receiveCount: Number(record.attributes.ApproximateReceiveCount ?? "1"),
      trace: continueTrace(event as { traceparent?: unknown }),
    });
  };
  return middy<SQSEvent, SQSBatchResponse>().handler(async (event, context) => {
    if (isFifo(event)) {
      return processPartialResponse(event, handleRecord, new SqsFifoPartialProcessorAsync(), {
        context,
        skipGroupOnError: true,
        throwOnFullBatchFailure: false,
      });
    }
    return processPartialResponse(event, handleRecord, new BatchProcessor(EventType.SQS), {
      context,
      throwOnFullBatchFailure: false,
    });
  });
}
