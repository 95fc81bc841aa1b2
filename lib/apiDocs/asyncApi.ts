import { VERSION } from "../client/version.ts";
import { limits } from "../limits.ts";
import { clientFrameSchemas, componentSchemas, type JsonSchema, serverFrameSchemas } from "./schemas.ts";

export interface AsyncApiOptions {
  /** The WebSocket URL clients connect to, when known (e.g. `wss://abc.execute-api.eu-west-1.amazonaws.com/live`). */
  webSocketUrl?: string;
}

/** `presence.enter` -> `presenceEnter`, a name AsyncAPI's component keys accept. */
const key = (name: string) => name.replace(/\.(\w)/g, (_, c: string) => c.toUpperCase());

function webSocketServer(url: string | undefined): JsonSchema {
  if (url) {
    const parsed = new URL(url);
    return {
      host: parsed.host,
      protocol: parsed.protocol.replace(":", ""),
      ...(parsed.pathname && parsed.pathname !== "/" ? { pathname: parsed.pathname } : {}),
      description: "This bus's WebSocket API.",
      security: [{ $ref: "#/components/securitySchemes/token" }],
    };
  }
  return {
    host: "{apiId}.execute-api.{region}.amazonaws.com",
    pathname: "/live",
    protocol: "wss",
    description: "The WebSocket API of a deployed bus (`npm run dev` serves it at ws://localhost:4001).",
    variables: {
      apiId: { description: "The API id (stack output WebSocketUrl)." },
      region: { default: "us-east-1" },
    },
    security: [{ $ref: "#/components/securitySchemes/token" }],
  };
}

/**
 * The AsyncAPI 3 document of the bus's asynchronous interfaces: the WebSocket frames (client frames from the
 * zod schemas the frame parser validates with; server frames as `ServerFrame` declares them) and the
 * message each persistent subscription's SQS queue receives.
 */
export function asyncApiDocument(options: AsyncApiOptions = {}): JsonSchema {
  const messages: Record<string, JsonSchema> = {};
  const realtimeMessages: Record<string, JsonSchema> = {};
  const operations: Record<string, JsonSchema> = {};

  for (const [action, { schema, summary }] of Object.entries(clientFrameSchemas)) {
    const name = key(action);
    messages[name] = {
      name: action,
      title: `${action} (client)`,
      summary,
      contentType: "application/json",
      payload: schema,
    };
    realtimeMessages[name] = { $ref: `#/components/messages/${name}` };
    operations[`send${name[0]!.toUpperCase()}${name.slice(1)}`] = {
      action: "send",
      summary,
      channel: { $ref: "#/channels/realtime" },
      messages: [{ $ref: `#/channels/realtime/messages/${name}` }],
    };
  }
  for (const [type, { schema, summary }] of Object.entries(serverFrameSchemas)) {
    const name = `${key(type)}Frame`;
    messages[name] = {
      name: type,
      title: `${type} (server)`,
      summary,
      contentType: "application/json",
      payload: schema,
    };
    realtimeMessages[name] = { $ref: `#/components/messages/${name}` };
    operations[`receive${name[0]!.toUpperCase()}${name.slice(1)}`] = {
      action: "receive",
      summary,
      channel: { $ref: "#/channels/realtime" },
      messages: [{ $ref: `#/channels/realtime/messages/${name}` }],
    };
  }

  messages.subscriptionEvent = {
    name: "event",
    title: "An event delivered to a subscription",
    summary:
      "At least once. The body is the CloudEvent (the default `format`); a subscription with `format: raw` receives the event's `data` alone, and one with an `inputTransformer` the transformer's output. Ordered subscriptions use a FIFO queue with MessageGroupId = stream id and MessageDeduplicationId = event id.",
    contentType: "application/cloudevents+json",
    headers: {
      type: "object",
      description: "SQS message attributes, whatever the body's format.",
      properties: {
        type: { type: "string", description: "The event type (DataType String)." },
        streamid: { type: "string", description: "The stream id (DataType String)." },
        position: {
          type: "string",
          pattern: "^[0-9]+$",
          description: "The global position (DataType Number: SQS carries it as a decimal string).",
        },
      },
    },
    payload: { $ref: "#/components/schemas/CloudEvent" },
  };

  return {
    asyncapi: "3.0.0",
    info: {
      title: "Event bus realtime and subscription messages",
      version: VERSION,
      description: `WebSocket: JSON text frames of at most ${Math.round(limits.maxWebSocketFrameBytes / 1024)} KB; client frames carry \`action\` and an optional \`id\` echoed on the answer (ack, pong or error). Connect with \`?token=<JWT>\` (scope realtime:subscribe and/or realtime:publish). A bad frame gets an error frame and the connection stays open. SQS: each persistent subscription has a queue \`<queuePrefix><name>\` (\`.fifo\` when ordered) and a DLQ \`<queuePrefix><name>-dlq\`.`,
    },
    defaultContentType: "application/json",
    servers: {
      websocket: webSocketServer(options.webSocketUrl),
      sqs: {
        host: "sqs.{region}.amazonaws.com",
        protocol: "sqs",
        description: "The subscription queues (any SQS client, or a consumer Lambda).",
        variables: { region: { default: "us-east-1" } },
      },
    },
    channels: {
      realtime: {
        address: "/",
        title: "WebSocket connection",
        servers: [{ $ref: "#/servers/websocket" }],
        messages: realtimeMessages,
      },
      subscriptionQueue: {
        address: "{queuePrefix}{subscription}",
        title: "A persistent subscription's queue",
        servers: [{ $ref: "#/servers/sqs" }],
        parameters: {
          queuePrefix: { description: "The bus's queue prefix (default `eventbus-`)." },
          subscription: { description: "The subscription name (`.fifo` appended when ordered)." },
        },
        messages: { event: { $ref: "#/components/messages/subscriptionEvent" } },
      },
    },
    operations: {
      ...operations,
      receiveSubscriptionEvent: {
        action: "receive",
        summary: "Consume a subscription's events (delete each message once handled).",
        channel: { $ref: "#/channels/subscriptionQueue" },
        messages: [{ $ref: "#/channels/subscriptionQueue/messages/event" }],
      },
    },
    components: {
      schemas: { CloudEvent: componentSchemas.CloudEvent },
      messages,
      securitySchemes: {
        token: {
          type: "httpApiKey",
          name: "token",
          in: "query",
          description: "The bearer JWT, as `?token=` on the connection URL.",
        },
      },
    },
  };
}
