import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import {
  ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";
import { EventBusError } from "../errors.ts";
import type { EventBusCloudEvent } from "../events/types.ts";
import { limits } from "../limits.ts";
import { type ConnectionPoster, createConnectionPoster } from "./connectionPoster.ts";
import type { ServerFrame } from "./frames.ts";

/** Posts in flight at once per client; the broadcaster's parallelism is bounded by the same number. */
export const POST_CONCURRENCY = 100;

const posters = new WeakMap<ApiGatewayManagementApiClient, ConnectionPoster>();

/**
 * A client for the WebSocket API's `@connections` endpoint:
 * `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}` on AWS, the local gateway otherwise.
 * Its keep-alive sockets match `POST_CONCURRENCY` (the SDK's default pool has 50). `postFrame` sends
 * through a lighter poster made with the same endpoint, region and credentials (see
 * `connectionPoster.ts`); `GetConnection` and `DeleteConnection` go through the SDK.
 */
export function createManagementApi(endpoint: string, region: string): ApiGatewayManagementApiClient {
  const api = new ApiGatewayManagementApiClient({
    endpoint,
    region,
    requestHandler: {
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: POST_CONCURRENCY }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: POST_CONCURRENCY }),
    },
  });
  posters.set(
    api,
    createConnectionPoster({
      endpoint,
      region,
      credentials: () => api.config.credentials(),
      maxSockets: POST_CONCURRENCY,
    }),
  );
  return api;
}

/** Attempts of one post through the poster on throttling, 5xx or a reset, as the SDK's default of 3. */
const POST_ATTEMPTS = 3;

function postWithPoster(
  poster: ConnectionPoster,
  connectionId: string,
  data: Uint8Array,
  attempt = 1,
): Promise<"sent" | "gone"> {
  // Not an async function: the first attempt, nearly always the only one, costs no extra promise.
  return poster.post(connectionId, data).catch(async (error: unknown) => {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const permanent = status !== undefined && status >= 400 && status < 500 && status !== 429;
    if (permanent || attempt >= POST_ATTEMPTS) throw error;
    await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt * Math.random()));
    return postWithPoster(poster, connectionId, data, attempt + 1);
  });
}

/** SDK v3 reports HTTP statuses in `$metadata`, not in `statusCode`. */
export const isGone = (error: unknown): boolean =>
  error instanceof GoneException ||
  (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode === 410;

const encoder = new TextEncoder();
/** A frame broadcast to many connections is serialised once. */
const encoded = new WeakMap<ServerFrame, Uint8Array>();

/**
 * Sends one frame to one connection. Resolves `gone` when API Gateway no longer knows the connection
 * (the caller decides what to clean up); other failures are thrown after the SDK's own retries.
 *
 * @throws {EventBusError} `PAYLOAD_TOO_LARGE` for a frame above API Gateway's 128 KB message limit.
 */
export function postFrame(
  api: ApiGatewayManagementApiClient,
  connectionId: string,
  frame: ServerFrame,
): Promise<"sent" | "gone"> {
  let data = encoded.get(frame);
  if (!data) {
    try {
      data = encoder.encode(JSON.stringify(frame));
    } catch (error) {
      // Callers chain `.catch` on the result: never throw synchronously.
      return Promise.reject(error);
    }
    encoded.set(frame, data);
  }
  if (data.byteLength > limits.maxWebSocketMessageBytes) {
    return Promise.reject(
      new EventBusError(
        "PAYLOAD_TOO_LARGE",
        `WebSocket messages are limited to ${limits.maxWebSocketMessageBytes} bytes.`,
      ),
    );
  }
  const poster = posters.get(api);
  if (poster) return postWithPoster(poster, connectionId, data);
  return sendThroughSdk(api, connectionId, data);
}

async function sendThroughSdk(
  api: ApiGatewayManagementApiClient,
  connectionId: string,
  data: Uint8Array,
): Promise<"sent" | "gone"> {
  try {
    await api.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
    return "sent";
  } catch (error) {
    if (isGone(error)) return "gone";
    throw error;
  }
}

/** JSON size of a frame in bytes. */
export const frameBytes = (frame: ServerFrame): number => Buffer.byteLength(JSON.stringify(frame));

/**
 * Splits events of one topic into `events` frames that each fit API Gateway's 128 KB message limit, in
 * order. Appends already refuse events above `limits.maxEventBytes`, so every event fits a frame alone.
 */
export function eventFrames(topic: string, events: readonly EventBusCloudEvent[]): ServerFrame[] {
  const envelope = frameBytes({ type: "events", topic, events: [] });
  const frames: ServerFrame[] = [];
  let batch: EventBusCloudEvent[] = [];
  let size = envelope;
  for (const event of events) {
    const bytes = Buffer.byteLength(JSON.stringify(event)) + 1; // + the separating comma
    if (batch.length > 0 && size + bytes > limits.maxWebSocketMessageBytes) {
      frames.push({ type: "events", topic, events: batch });
      batch = [];
      size = envelope;
    }
    batch.push(event);
    size += bytes;
  }
  if (batch.length > 0) frames.push({ type: "events", topic, events: batch });
  return frames;
}
