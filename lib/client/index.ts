/**
 * `serverless-eventbus/client`: the typed SDK for the bus's HTTP and WebSocket APIs. Node 20+ and browsers; no
 * Node-only imports except the lazily loaded `ws` fallback for Node 20 (see `webSocket.ts`).
 */
export {
  type ClientOptions,
  createClient,
  EventBusClient,
  type ReadAllOptions,
  type ReadOptions,
} from "./client.ts";
export {
  CaptureNotPossibleError,
  type ClientErrorCode,
  ConflictError,
  ConnectionGoneError,
  EventBusClientError,
  errorForCode,
  ForbiddenError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  type ProblemDocument,
  UnauthorizedError,
  UnavailableError,
  UnsupportedMediaTypeError,
  ValidationFailedError,
  WrongExpectedVersionError,
} from "./errors.ts";
export { PagedRead } from "./pages.ts";
export { comparePositions, toBigPosition } from "./position.ts";
export { type Presence, PresenceList, type PresenceMember } from "./presence.ts";
export {
  type ConnectionState,
  type EventContext,
  type EventHandler,
  type EventTopic,
  type Message,
  type MessageHandler,
  RealtimeClient,
  type RealtimeOptions,
  type ServerFrame,
  type SubscribeOptions,
  type Unsubscribe,
} from "./realtime.ts";
export { type TokenSource, tokenTimes } from "./token.ts";
export type {
  AllPage,
  AppendResult,
  CaptureStatus,
  CloudEvent,
  EventPattern,
  ExpectedVersion,
  NewEvent,
  Position,
  StreamInfo,
  StreamPage,
  SubscriptionDefinition,
  SubscriptionStatus,
} from "./types.ts";
export { VERSION } from "./version.ts";
export type { WebSocketConstructor, WebSocketLike } from "./webSocket.ts";
