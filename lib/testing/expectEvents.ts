import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import type { EventBusClient } from "../client/client.ts";
import type { CloudEvent } from "../client/types.ts";
import { localCredentials } from "./localCredentials.ts";
import { describeMatcher, type EventMatcher, matches } from "./matchers.ts";

export interface ExpectEventsOptions {
  /** How long to wait for every matcher to be satisfied, in ms (default 5000). */
  timeout?: number;
  /** Looks up the queue of a subscription given by name (`GET /subscriptions/{name}`). */
  client?: EventBusClient;
  /** An SQS client; else one is made from `endpoint` and `region` (or the AWS SDK's usual environment). */
  sqs?: SQSClient;
  /** The SQS endpoint, e.g. `http://127.0.0.1:4002` under `npm run dev` (then any credentials do). */
  endpoint?: string;
  region?: string;
}

/** Thrown when the matchers were not all satisfied in time; the message lists what did arrive. */
export class ExpectEventsError extends Error {
  override readonly name = "ExpectEventsError";
  constructor(
    message: string,
    /** Every event that arrived while waiting, matched or not. */
    readonly received: CloudEvent[],
    /** The matchers no event satisfied. */
    readonly missing: EventMatcher[],
  ) {
    super(message);
  }
}

/**
 * Waits until the subscription's SQS queue delivers an event for each matcher (each event satisfies at most
 * one matcher, in the order given), deletes those messages and returns their events, in the spirit of
 * ExUnit's `assert_receive`. Messages that match nothing go back to the queue untouched, except on FIFO
 * (ordered) queues, where a message held back would block the rest of its stream: there they are consumed.
 * On timeout it throws `ExpectEventsError` naming each unmatched matcher and listing what arrived.
 *
 * @example
 * ```ts
 * const [placed] = await expectEvents("audits", { type: "OrderPlaced", data: { total: 42 } }, { client: bus });
 * await expectEvents("audits", pattern({ type: [{ prefix: "Order" }] }), { client: bus, timeout: 10_000 });
 * ```
 */
export async function expectEvents(
  subscription: string | { queueUrl: string },
  matcher: EventMatcher | EventMatcher[],
  options: ExpectEventsOptions = {},
): Promise<CloudEvent[]> {
  const matchers = Array.isArray(matcher) ? matcher : [matcher];
  const timeout = options.timeout ?? 5000;
  const deadline = Date.now() + timeout;
  const queueUrl = await resolveQueueUrl(subscription, options.client);
  const fifo = queueUrl.endsWith(".fifo");
  const ownSqs = options.sqs === undefined;
  const sqs =
    options.sqs ??
    new SQSClient({
      region: options.region ?? "us-east-1",
      // A stand-in endpoint (npm run dev, LocalStack) accepts any credentials; the shell may have none.
      ...(options.endpoint === undefined
        ? {}
        : { endpoint: options.endpoint, useQueueUrlAsEndpoint: false, credentials: localCredentials }),
    });
  const found: Array<CloudEvent | undefined> = matchers.map(() => undefined);
  const received: CloudEvent[] = [];
  const held: Message[] = [];
  try {
    while (found.includes(undefined)) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: Math.max(0, Math.min(20, Math.floor(left / 1000))),
          // Unmatched messages stay invisible until released below, so each is looked at once.
          VisibilityTimeout: Math.ceil(left / 1000) + 5,
        }),
      );
      const consumed: Message[] = [];
      for (const message of Messages) {
        const event = parseEvent(message.Body);
        if (event) received.push(event);
        const index =
          event === undefined
            ? -1
            : found.findIndex((f, i) => f === undefined && matches(matchers[i]!, event));
        if (index >= 0) {
          found[index] = event;
          consumed.push(message);
        } else if (fifo) consumed.push(message);
        else held.push(message);
      }
      await deleteMessages(sqs, queueUrl, consumed);
    }
  } finally {
    await releaseMessages(sqs, queueUrl, held).catch(() => {});
    if (ownSqs) sqs.destroy();
  }
  const missing = matchers.filter((_, i) => found[i] === undefined);
  if (missing.length > 0) {
    throw new ExpectEventsError(failureMessage(missing, received, timeout), received, missing);
  }
  return found as CloudEvent[];
}

async function resolveQueueUrl(
  subscription: string | { queueUrl: string },
  client?: EventBusClient,
): Promise<string> {
  if (typeof subscription !== "string") return subscription.queueUrl;
  if (!client)
    throw new Error(`expectEvents: pass 'client' to look up the queue of subscription '${subscription}'.`);
  return (await client.subscriptions.get(subscription)).queueUrl;
}

function parseEvent(body: string | undefined): CloudEvent | undefined {
  try {
    const value = JSON.parse(body ?? "");
    return typeof value === "object" && value !== null ? (value as CloudEvent) : undefined;
  } catch {
    return undefined;
  }
}

async function deleteMessages(sqs: SQSClient, queueUrl: string, messages: Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    const batch = messages.slice(i, i + 10);
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: batch.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
  }
}

async function releaseMessages(sqs: SQSClient, queueUrl: string, messages: Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    const batch = messages.slice(i, i + 10);
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: batch.map((m, j) => ({
          Id: String(j),
          ReceiptHandle: m.ReceiptHandle!,
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
}

/** One line per event: enough to see at a glance why nothing matched. */
function summarize(event: CloudEvent): string {
  const data = JSON.stringify(event.data);
  const shown = data !== undefined && data.length > 120 ? `${data.slice(0, 117)}...` : data;
  return `  - position ${String(event.position)} ${event.subject ?? event.streamid} ${event.type} ${shown ?? ""}`;
}

function failureMessage(missing: EventMatcher[], received: CloudEvent[], timeout: number): string {
  const wanted = missing.map((m) => `  - ${describeMatcher(m)}`).join("\n");
  const arrived =
    received.length === 0
      ? "  (nothing arrived)"
      : received.slice(0, 50).map(summarize).join("\n") +
        (received.length > 50 ? `\n  ... and ${received.length - 50} more` : "");
  return `No event matched within ${timeout} ms:\n${wanted}\nReceived ${received.length} event(s):\n${arrived}`;
}
