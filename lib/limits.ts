/**
 * Limits taken from AWS so that the laptop behaves like the cloud. An event that could not be delivered
 * somewhere (an SQS message, a WebSocket message) is refused when it is appended, never dropped later.
 */
export const limits = {
  /** A serialised CloudEvent. API Gateway WebSocket messages stop at 128 KB; 8 KB is left for the frame. */
  maxEventBytes: 120 * 1024,
  /** SQS message size (body + attributes) on a queue with the default and maximum `MaximumMessageSize`. */
  maxSqsMessageBytes: 1024 * 1024,
  sqsBatchSize: 10,
  /** API Gateway WebSocket: one frame and one (possibly multi-frame) message. */
  maxWebSocketFrameBytes: 32 * 1024,
  maxWebSocketMessageBytes: 128 * 1024,
  webSocketIdleMs: 10 * 60 * 1000,
  webSocketMaxConnectionMs: 2 * 60 * 60 * 1000,
  /** DynamoDB. */
  maxDynamoItemBytes: 400 * 1024,
  dynamoBatchWriteSize: 25,
  /** Postgres refuses NOTIFY payloads of 8000 bytes or more. */
  maxNotifyPayloadBytes: 7999,
  /** One append request. Lambda's synchronous payload limit is 6 MB; keep clear of it. */
  maxRequestBytes: 5 * 1024 * 1024,
  maxEventsPerAppend: 1000,
  maxReadLimit: 1000,
  defaultReadLimit: 100,
} as const;
