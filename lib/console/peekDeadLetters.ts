import { ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";

/** A message of a subscription's dead-letter queue as the console shows it. */
export interface DeadLetterView {
  messageId: string;
  /** The message body (the CloudEvent), cut to `maxBodyBytes`; see `truncated`. */
  body: string;
  /** The whole body's size in bytes. */
  bodyBytes: number;
  truncated: boolean;
  /** Receives so far, the consumer's failed ones and this look included (SQS's `ApproximateReceiveCount`). */
  receiveCount: number;
  /** When a consumer first received it (SQS's `ApproximateFirstReceiveTimestamp`), or `null`. */
  firstReceivedAt: string | null;
  /** When it was first sent to the subscription's queue (`SentTimestamp`), or `null`. */
  sentAt: string | null;
  /** The bus's message attributes: `type`, `streamid`, `position`. */
  attributes: Record<string, string>;
}

/** Bodies are cut here: up to 50 whole 1 MiB messages would not fit a Lambda response (6 MB). */
export const DEAD_LETTER_BODY_BYTES = 8192;

const iso = (epochMs: string | undefined) =>
  epochMs && /^\d+$/.test(epochMs) ? new Date(Number(epochMs)).toISOString() : null;

function cut(body: string, maxBytes: number): { body: string; truncated: boolean } {
  const bytes = Buffer.from(body);
  if (bytes.length <= maxBytes) return { body, truncated: false };
  // Cutting at a byte count may split a character; the decoder drops the partial one as U+FFFD, trimmed.
  return {
    body: bytes
      .subarray(0, maxBytes)
      .toString("utf8")
      .replace(/\uFFFD$/, ""),
    truncated: true,
  };
}

/**
 * Up to `limit` messages of a dead-letter queue, looked at and left there: received with a visibility
 * timeout of 0, so they are visible again at once and a redrive (or anyone else) can take them. SQS has
 * no peek, so looking counts as a receive (each message's `ApproximateReceiveCount` grows by one; a DLQ
 * has no redrive policy of its own, so nothing moves because of it). Short polls return a sample of the
 * queue's servers, so several receives are made and their answers merged by message id, at most
 * `ceil(limit / 10) + 2` of them: a deep DLQ shows a bounded sample, not necessarily its oldest messages.
 */
export async function peekDeadLetters(
  sqs: SQSClient,
  dlqUrl: string,
  options: { limit: number; maxBodyBytes?: number },
): Promise<DeadLetterView[]> {
  const seen = new Map<string, DeadLetterView>();
  const receives = Math.ceil(options.limit / 10) + 2;
  for (let i = 0; i < receives && seen.size < options.limit; i++) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlqUrl,
        MaxNumberOfMessages: Math.min(10, options.limit - seen.size),
        VisibilityTimeout: 0,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: [
          "ApproximateReceiveCount",
          "ApproximateFirstReceiveTimestamp",
          "SentTimestamp",
        ],
        MessageAttributeNames: ["All"],
      }),
    );
    let fresh = 0;
    for (const message of Messages) {
      if (!message.MessageId || seen.has(message.MessageId)) continue;
      fresh++;
      const body = message.Body ?? "";
      seen.set(message.MessageId, {
        messageId: message.MessageId,
        ...cut(body, options.maxBodyBytes ?? DEAD_LETTER_BODY_BYTES),
        bodyBytes: Buffer.byteLength(body),
        receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 0),
        firstReceivedAt: iso(message.Attributes?.ApproximateFirstReceiveTimestamp),
        sentAt: iso(message.Attributes?.SentTimestamp),
        attributes: Object.fromEntries(
          Object.entries(message.MessageAttributes ?? {}).flatMap(([name, value]) =>
            value.StringValue === undefined ? [] : [[name, value.StringValue]],
          ),
        ),
      });
    }
    if (Messages.length === 0 || fresh === 0) break;
  }
  // Oldest first, as SQS would hand them to a consumer.
  return [...seen.values()]
    .sort((a, b) => (a.sentAt ?? "").localeCompare(b.sentAt ?? ""))
    .slice(0, options.limit);
}
