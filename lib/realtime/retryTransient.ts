import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/** What the realtime code needs of a DynamoDB client: `send`. */
export type DynamoSender = Pick<DynamoDBDocumentClient, "send">;

/** Network failures Node reports on a socket that died under a request. */
const NETWORK_CODES = new Set([
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EAI_AGAIN",
]);
const THROTTLING = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
  "InternalServerError",
  "ServiceUnavailable",
  "TimeoutError",
]);

/** Is this a failure that the same request may not meet again (a reset, a timeout, throttling, a 5xx)? */
export function isTransientError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, name, $metadata, message } = error as {
    code?: string;
    name?: string;
    $metadata?: { httpStatusCode?: number };
    message?: string;
  };
  if (code && NETWORK_CODES.has(code)) return true;
  if (name && THROTTLING.has(name)) return true;
  if (($metadata?.httpStatusCode ?? 0) >= 500) return true;
  return typeof message === "string" && /socket hang up|ECONNRESET|EPIPE/.test(message);
}

export interface RetryOptions {
  /**
   * Further attempts after the SDK's own (default 8: up to 5 s of back-off in all, 2.5 s on average, so a
   * reset or throttling blip of a second or two is ridden out).
   */
  retries?: number;
  /** First back-off in ms, doubled each time, with full jitter (default 20). */
  baseDelayMs?: number;
}

/**
 * A DynamoDB client whose requests are retried on transient failures beyond the SDK's three attempts: a
 * connection reset that outlasts those used to surface as `INTERNAL` on a subscribe. Every write the
 * realtime code makes is idempotent (puts and deletes of whole items, set ADD/DELETE, conditional updates
 * whose replay fails their condition harmlessly), so a retry of a write DynamoDB already applied is safe.
 */
export function retryTransient(client: DynamoSender, options: RetryOptions = {}): DynamoSender {
  const retries = options.retries ?? 8;
  const base = options.baseDelayMs ?? 20;
  const send = async (command: Parameters<DynamoSender["send"]>[0]) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await client.send(command as never);
      } catch (error) {
        if (attempt >= retries || !isTransientError(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * base * 2 ** attempt));
      }
    }
  };
  return { send: send as DynamoSender["send"] };
}
