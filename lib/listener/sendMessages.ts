import { createHash } from "node:crypto";
import {
  type MessageAttributeValue,
  type MessageSystemAttributeValue,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { LimitFunction } from "p-limit";
import { limits } from "../limits.ts";
import type { ForwardEvent } from "../subscriptions/readForwardPage.ts";

/** One message to send. */
export interface OutgoingMessage {
  body: string;
  attributes?: Record<string, MessageAttributeValue>;
  /** SQS system attributes: `AWSTraceHeader`, which continues the event's trace in X-Ray. */
  systemAttributes?: Record<string, MessageSystemAttributeValue>;
  /** FIFO only. */
  groupId?: string;
  deduplicationId?: string;
  /** The events it carries, so that what SQS refuses for good can be parked. */
  events?: readonly ForwardEvent[];
}

export interface SendOptions {
  sqs: SQSClient;
  queueUrl: string;
  /** Bounds the SendMessageBatch calls in flight, shared by every forwarder of a listener. */
  limit: LimitFunction;
  /** FIFO: messages of one group are sent in order, one batch at a time; groups spread over lanes. */
  fifo: boolean;
  signal: AbortSignal;
  /** Called before each retry with what failed, for logging. */
  onRetry?: (info: { attempt: number; failed: number; reason: string }) => void;
}

/** A message SQS refused for good (it would refuse it again however often it is sent). */
export interface RefusedMessage {
  message: OutgoingMessage;
  reason: string;
}

/**
 * Batch-level errors that are about a message's content, not about the queue or the service: the batch is
 * split so that only the offending message is refused. Everything else (throttling, 5xx, network, a missing
 * queue, denied access) is transient for the message and retried forever: parking every event because the
 * queue is briefly unreachable would be worse than waiting.
 */
const CONTENT_ERRORS = new Set([
  "InvalidMessageContents",
  "MessageTooLong",
  "BatchRequestTooLong",
  "InvalidParameterValue",
  "InvalidParameterValueException",
  "InvalidAttributeName",
  "InvalidAttributeValue",
  "AWS.SimpleQueueService.InvalidMessageContents",
]);

const isContentError = (error: unknown) => {
  const { name, Code, code } = (error ?? {}) as { name?: string; Code?: string; code?: string };
  return [name, Code, code].some((n) => n !== undefined && CONTENT_ERRORS.has(n));
};

/**
 * A failed SQS call as operators may read it (in the log and in the subscription's status): the service's
 * error code and message when SQS answered (`QueueDoesNotExist: The specified queue does not exist.`), the
 * system error code when the call never reached it (`ECONNREFUSED`).
 */
function describeSqsFailure(error: unknown): string {
  const { name, message, code, cause, $fault } = (error ?? {}) as {
    name?: string;
    message?: string;
    code?: string;
    cause?: { code?: string };
    $fault?: string;
  };
  if ($fault !== undefined) return message ? `${name}: ${message}` : (name ?? "SQS refused the call");
  const systemCode = code ?? cause?.code;
  return systemCode
    ? `SQS could not be reached (${systemCode})`
    : `SQS call failed (${name ?? "unknown error"})`;
}

/** Lanes per FIFO queue: each group maps to one lane, lanes send concurrently. */
const FIFO_LANES = 8;
const MAX_BACKOFF_MS = 5_000;

/** SQS ids and group ids are limited to 128 characters; stream ids may be longer. */
export const sqsId = (value: string) =>
  value.length <= 128 ? value : createHash("sha256").update(value).digest("hex");

const attributesSize = (attributes: Record<string, MessageAttributeValue> = {}) =>
  Object.entries(attributes).reduce(
    (n, [k, v]) =>
      n + Buffer.byteLength(k) + Buffer.byteLength(v.DataType ?? "") + Buffer.byteLength(v.StringValue ?? ""),
    0,
  );

/** Splits messages into SendMessageBatch calls: at most 10 entries and 1 MiB of payload each. */
function toBatches(messages: readonly OutgoingMessage[]): OutgoingMessage[][] {
  const batches: OutgoingMessage[][] = [];
  let current: OutgoingMessage[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = Buffer.byteLength(message.body) + attributesSize(message.attributes);
    if (
      current.length === limits.sqsBatchSize ||
      (current.length > 0 && bytes + size > limits.maxSqsMessageBytes)
    ) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

const backoff = (attempt: number) => Math.min(MAX_BACKOFF_MS, 50 * 2 ** attempt) * (0.5 + Math.random() / 2);

/**
 * Sends one batch until SQS has accepted or refused for good every entry. Entries that fail transiently
 * (or a call that fails as a whole) are retried with exponential back-off. An entry refused as the sender's
 * fault is returned as refused; a whole batch refused for its content is split into single messages, so one
 * poison message cannot take its neighbours with it. Only an abort ends it early, by throwing.
 */
async function sendBatch(options: SendOptions, batch: readonly OutgoingMessage[]): Promise<RefusedMessage[]> {
  const refused: RefusedMessage[] = [];
  let pending = batch.map((message, i) => ({ id: String(i), message }));
  for (let attempt = 0; ; attempt++) {
    const entries: SendMessageBatchRequestEntry[] = pending.map(({ id, message }) => ({
      Id: id,
      MessageBody: message.body,
      ...(message.attributes ? { MessageAttributes: message.attributes } : {}),
      ...(message.systemAttributes ? { MessageSystemAttributes: message.systemAttributes } : {}),
      ...(message.groupId === undefined ? {} : { MessageGroupId: message.groupId }),
      ...(message.deduplicationId === undefined ? {} : { MessageDeduplicationId: message.deduplicationId }),
    }));
    let reason: string;
    try {
      const result = await options.limit(() =>
        options.sqs.send(new SendMessageBatchCommand({ QueueUrl: options.queueUrl, Entries: entries }), {
          abortSignal: options.signal,
        }),
      );
      const failures = new Map((result.Failed ?? []).map((f) => [f.Id, f]));
      for (const entry of pending) {
        const failure = failures.get(entry.id);
        if (failure?.SenderFault) {
          refused.push({
            message: entry.message,
            reason: `${failure.Code}: ${failure.Message ?? ""}`.trim(),
          });
          failures.delete(entry.id);
        }
      }
      pending = pending.filter(({ id }) => failures.has(id));
      if (pending.length === 0) return refused;
      reason = [...failures.values()].map((f) => `${f.Code}: ${f.Message}`)[0] ?? "rejected";
    } catch (error) {
      if (options.signal.aborted) throw options.signal.reason;
      if (isContentError(error)) {
        const message = `${(error as Error).name}: ${(error as Error).message}`;
        if (pending.length === 1) return [...refused, { message: pending[0]!.message, reason: message }];
        // Send the messages one by one to find which of them SQS refuses.
        for (const entry of pending) refused.push(...(await sendBatch(options, [entry.message])));
        return refused;
      }
      reason = describeSqsFailure(error);
    }
    options.onRetry?.({ attempt: attempt + 1, failed: pending.length, reason });
    await sleep(backoff(attempt), options.signal);
  }
}

/**
 * Sends messages with SendMessageBatch, with bounded parallelism, and resolves once SQS has accepted every
 * message or refused it for good; it returns the refused ones with SQS's reason, for the caller to park.
 * On FIFO queues a group's messages go out in order (one lane per group, batches of a lane in sequence), so
 * per-group order holds even though lanes run in parallel.
 */
export async function sendMessages(
  options: SendOptions,
  messages: readonly OutgoingMessage[],
): Promise<RefusedMessage[]> {
  if (messages.length === 0) return [];
  if (!options.fifo) {
    return (await Promise.all(toBatches(messages).map((batch) => sendBatch(options, batch)))).flat();
  }
  const lanes = new Map<number, OutgoingMessage[]>();
  for (const message of messages) {
    const lane =
      createHash("md5")
        .update(message.groupId ?? "")
        .digest()
        .readUInt32BE(0) % FIFO_LANES;
    const list = lanes.get(lane) ?? [];
    list.push(message);
    lanes.set(lane, list);
  }
  const refused = await Promise.all(
    [...lanes.values()].map(async (laneMessages) => {
      const laneRefused: RefusedMessage[] = [];
      for (const batch of toBatches(laneMessages)) laneRefused.push(...(await sendBatch(options, batch)));
      return laneRefused;
    }),
  );
  return refused.flat();
}
