import { Logger } from "@aws-lambda-powertools/logger";
import type { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyWebsocketEventV2 } from "aws-lambda";
import type { z } from "zod";
import type { Config } from "../config.ts";
import { EventBusError, isEventBusError, validationFailed } from "../errors.ts";
import { parseWith } from "../validation.ts";
import { checkFrameValue } from "./checkFrameValue.ts";
import { closeExpiredConnection } from "./closeExpiredConnection.ts";
import { type Connection, tokenExpired } from "./connection.ts";
import { type FrameId, frameIdOf, type ServerFrame } from "./frames.ts";
import { getConnection } from "./getConnection.ts";
import { createManagementApi, postFrame } from "./postFrame.ts";
import { type DynamoSender, retryTransient } from "./retryTransient.ts";
import type { RealtimeTable } from "./table.ts";

/** An API Gateway WebSocket event; `$connect` events also carry the handshake's headers and query. */
export type WebSocketEvent = APIGatewayProxyWebsocketEventV2 & {
  headers?: Record<string, string | undefined>;
  queryStringParameters?: Record<string, string | undefined>;
};
export interface WebSocketResult {
  statusCode: number;
  body?: string;
}

/** What the WebSocket handlers need from their runtime (`functions/shared/runtime.ts` provides it). */
export interface WsRuntime {
  config: Config;
  dynamo: DynamoDBDocumentClient;
}

export interface WsContext<R extends WsRuntime> {
  event: WebSocketEvent;
  connectionId: string;
  runtime: R;
  table: RealtimeTable;
  api: ApiGatewayManagementApiClient;
  /** Sends a frame to this connection. */
  send(frame: ServerFrame): Promise<unknown>;
}

const logger = new Logger({ serviceName: "eventbus-ws" });
const apis = new Map<string, ApiGatewayManagementApiClient>();

const retrying = new WeakMap<DynamoDBDocumentClient, DynamoSender>();

/** The realtime table, through the runtime's DynamoDB client with transient failures retried. */
export function realtimeTable(runtime: WsRuntime): RealtimeTable {
  let dynamo = retrying.get(runtime.dynamo);
  if (!dynamo) {
    dynamo = retryTransient(runtime.dynamo);
    retrying.set(runtime.dynamo, dynamo);
  }
  return { dynamo, tableName: runtime.config.EVENTBUS_REALTIME_TABLE };
}

/**
 * The `@connections` client for the API that sent `event`: the configured endpoint, else the one API
 * Gateway itself names in the event. Memoised per endpoint for the life of the execution environment.
 */
export function managementApiFor(config: Config, event?: WebSocketEvent): ApiGatewayManagementApiClient {
  const context = event?.requestContext;
  const endpoint =
    config.EVENTBUS_WS_MANAGEMENT_ENDPOINT ??
    (context ? `https://${context.domainName}/${context.stage}` : undefined);
  if (!endpoint) throw new Error("EVENTBUS_WS_MANAGEMENT_ENDPOINT is not configured");
  let api = apis.get(endpoint);
  if (!api) {
    api = createManagementApi(endpoint, config.AWS_REGION);
    apis.set(endpoint, api);
  }
  return api;
}

/** The error frame for any thrown value; only `EventBusError`s say what went wrong. */
export function errorFrame(error: unknown, id: FrameId): ServerFrame {
  const known = isEventBusError(error);
  if (!known) logger.error("frame failed", { error: error as Error });
  return {
    type: "error",
    ...(id === undefined ? {} : { id }),
    code: known ? error.code : "INTERNAL",
    message: known ? error.message : "The frame could not be processed.",
  };
}

/**
 * Parses a frame's body as JSON (check it with `checkFrameValue` once its `id` is taken).
 *
 * @throws {EventBusError} `VALIDATION_FAILED` for a binary frame or a body that is not JSON.
 */
export function parseFrameBody(event: WebSocketEvent): unknown {
  if (event.isBase64Encoded) {
    // API Gateway hands binary frames over base64-encoded; decoding them as if they were text made a
    // binary `{"action":"ping"}` look like an unknown action.
    throw validationFailed(
      'Binary frames are not supported: send each frame as a JSON text frame, e.g. {"action":"ping"}.',
      { field: "frame", rule: "text frames only" },
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(event.body ?? "");
  } catch {
    throw validationFailed('Frames are JSON objects with an "action", e.g. {"action":"ping"}.', {
      field: "frame",
      rule: "JSON",
    });
  }
  return body;
}

/**
 * Wraps one route of the frame protocol into an API Gateway WebSocket Lambda handler: parses and validates
 * the frame, loads the connection's principal (stored at `$connect`), runs the route and sends its reply
 * (an ack or pong, echoing the frame's `id`). Every failure becomes an error frame and the connection stays
 * open, except that a connection whose token has expired is closed (`closeExpiredConnection`). Replies go
 * through `PostToConnection`, which behaves the same on AWS and locally.
 */
export function wsRoute<S extends z.ZodType, R extends WsRuntime>(
  getRuntime: () => Promise<R>,
  schema: S,
  route: (
    frame: z.output<S>,
    connection: Connection,
    context: WsContext<R>,
  ) => Promise<ServerFrame | undefined>,
  /** `acceptExpiredToken`: the route runs even when the connection's token has expired (`auth`). */
  options: { acceptExpiredToken?: boolean } = {},
) {
  return async (event: WebSocketEvent): Promise<WebSocketResult> => {
    const runtime = await getRuntime();
    const connectionId = event.requestContext.connectionId;
    const api = managementApiFor(runtime.config, event);
    const send = (frame: ServerFrame) => postFrame(api, connectionId, frame);
    const table = realtimeTable(runtime);
    let id: FrameId;
    try {
      const body = parseFrameBody(event);
      id = frameIdOf(body);
      checkFrameValue(body);
      const frame = parseWith(schema, body, "Invalid frame");
      const connection = await getConnection(table, connectionId);
      if (!connection)
        throw new EventBusError("UNAUTHORIZED", "This connection is not registered; reconnect.");
      if (!options.acceptExpiredToken && tokenExpired(connection)) {
        await closeExpiredConnection(table, api, connectionId, {
          id,
          onError: (error) => logger.warn("could not close an expired connection", { error: error as Error }),
        });
        return { statusCode: 200 };
      }
      const reply = await route(frame, connection, { event, connectionId, runtime, table, api, send });
      if (reply) await send(reply);
    } catch (error) {
      await send(errorFrame(error, id)).catch((postError) =>
        logger.warn("could not send an error frame", { error: postError as Error }),
      );
    }
    return { statusCode: 200 };
  };
}
