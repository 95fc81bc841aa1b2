import { createHash } from "node:crypto";
import {
  type MessageAttributeValue,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { LimitFunction } from "p-limit";
import { limits } from "../limits.ts";

/** One message to send. */
export interface OutgoingMessage {
  body: string;
  attributes?: Record<string, MessageAttributeValue>;
  /** FIFO only. */
  groupId?: string;
  deduplicationId?: string;
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
 * Sends one batch until SQS has accepted every entry: entries that fail (or a call that fails as a whole)
 * are retried with exponential back-off. Only an abort ends it early, by throwing.
 */
async function sendBatch(options: SendOptions, batch: readonly OutgoingMessage[]): Promise<void> {
  let pending = batch.map((message, i) => ({ id: String(i), message }));
  for (let attempt = 0; ; attempt++) {
    const entries: SendMessageBatchRequestEntry[] = pending.map(({ id, message }) => ({
      Id: id,
      MessageBody: message.body,
      ...(message.attributes ? { MessageAttributes: message.attributes } : {}),
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
      const failed = new Set((result.Failed ?? []).map((f) => f.Id));
      if (failed.size === 0) return;
      pending = pending.filter(({ id }) => failed.has(id));
      reason = (result.Failed ?? []).map((f) => `${f.Code}: ${f.Message}`)[0] ?? "rejected";
    } catch (error) {
      if (options.signal.aborted) throw options.signal.reason;
      reason = (error as Error).name || String(error);
    }
    options.onRetry?.({ attempt: attempt + 1, failed: pending.length, reason });
    await sleep(backoff(attempt), options.signal);
  }
}

/**
 * Sends messages with SendMessageBatch, with bounded parallelism, and resolves once SQS has accepted all
 * of them. On FIFO queues a group's messages go out in order (one lane per group, batches of a lane in
 * sequence), so per-group order holds even though lanes run in parallel.
 */
export async function sendMessages(
  options: SendOptions,
  messages: readonly OutgoingMessage[],
): Promise<void> {
  if (messages.length === 0) return;
  if (!options.fifo) {
    await Promise.all(toBatches(messages).map((batch) => sendBatch(options, batch)));
    return;
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
  await Promise.all(
    [...lanes.values()].map(async (laneMessages) => {
      for (const batch of toBatches(laneMessages)) await sendBatch(options, batch);
    }),
  );
}
