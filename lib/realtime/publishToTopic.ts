import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Principal } from "../auth/token.ts";
import { EventBusError } from "../errors.ts";
import { limits } from "../limits.ts";
import { escapeForSqs } from "../listener/cloudEventJson.ts";
import { authorizePublish } from "./authorizeTopic.ts";
import type { FanoutMessage } from "./fanoutMessage.ts";
import { frameBytes } from "./postFrame.ts";
import { parseTopic } from "./topic.ts";

export interface PublishDeps {
  sqs: SQSClient;
  /** The realtime fan-out queue. */
  queueUrl: string | undefined;
}

/**
 * Publishes an ephemeral message to a topic's subscribers. It goes onto the fan-out queue, like live
 * events, rather than straight to the connections: the publisher's request stays short however large the
 * topic, posting is retried by the queue, and one broadcaster owns every post to API Gateway. Nothing is
 * stored in Postgres.
 *
 * @throws {EventBusError} `VALIDATION_FAILED` (bad or event topic), `FORBIDDEN`, `PAYLOAD_TOO_LARGE` when
 * the subscribers' frame would exceed API Gateway's 128 KB message limit.
 */
export async function publishToTopic(
  deps: PublishDeps,
  principal: Principal,
  message: { topic: string; data: unknown; sender: string | null; excludeSelf: boolean },
): Promise<void> {
  const topic = parseTopic(message.topic);
  authorizePublish(principal, topic);
  const bytes = frameBytes({
    type: "message",
    topic: topic.name,
    data: message.data,
    sender: message.sender,
  });
  if (bytes > limits.maxWebSocketMessageBytes) {
    throw new EventBusError(
      "PAYLOAD_TOO_LARGE",
      `A published message must fit one WebSocket message of ${limits.maxWebSocketMessageBytes} bytes.`,
      { maxMessageBytes: limits.maxWebSocketMessageBytes },
    );
  }
  if (!deps.queueUrl) throw new Error("EVENTBUS_REALTIME_QUEUE_URL is not configured");
  const body: FanoutMessage = {
    kind: "message",
    topic: topic.name,
    data: message.data,
    sender: message.sender,
    excludeSelf: message.excludeSelf,
  };
  // Characters SQS refuses (U+FFFE, U+FFFF; astral ones on some stand-ins) travel as JSON escapes.
  await deps.sqs.send(
    new SendMessageCommand({ QueueUrl: deps.queueUrl, MessageBody: escapeForSqs(JSON.stringify(body)) }),
  );
}
