import { z } from "zod";
import { errorStatus } from "../errors.ts";
import { jsonEvent } from "../events/parseAppendBody.ts";
import { captureNameParam, streamIdParam, subscriptionNameParam } from "../http/pathParams.ts";
import {
  authFrame,
  pingFrame,
  presenceEnterFrame,
  presenceLeaveFrame,
  presenceUpdateFrame,
  publishFrame,
  subscribeFrame,
  unsubscribeFrame,
} from "../realtime/frames.ts";
import { messageBody } from "../realtime/parseMessageBody.ts";
import { definitionSchema } from "../subscriptions/definition.ts";
import { replaySchema } from "../subscriptions/parseReplayRequest.ts";

/** A JSON Schema (2020-12, the dialect of OpenAPI 3.1 and of AsyncAPI 3's default schema format). */
export type JsonSchema = { [keyword: string]: unknown };

/**
 * The JSON Schema of a request schema, as a client must send it (`io: "input"`: fields with defaults are
 * optional). The zod schema stays the one source of truth: this is what the route validates with.
 * Refinements have no JSON Schema form and are described in prose where they matter.
 */
export function requestSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
  return rest;
}

/** Every stable error code, for the `code` of problem documents and WebSocket error frames. */
export const errorCodes = Object.keys(errorStatus);

const position = { type: "integer", minimum: 0, description: "A global position." } as const;
const timestamp = { type: "string", format: "date-time" } as const;
const nullable = (schema: JsonSchema): JsonSchema => ({ anyOf: [schema, { type: "null" }] });

/** Stream ids, from the schema the routes validate the `streamId` path parameter with. */
export const streamIdSchema: JsonSchema = requestSchema(streamIdParam);

/** Subscription names, from the schema of the `name` path parameter (shorter with a long queue prefix). */
export const subscriptionNameSchema: JsonSchema = requestSchema(subscriptionNameParam);

/** Capture names, from the schema of the `name` path parameter. */
const captureNameSchema: JsonSchema = requestSchema(captureNameParam);

/**
 * The shared schemas, referenced as `#/components/schemas/<name>` by the OpenAPI document and copied into
 * the AsyncAPI document's components.
 */
export const componentSchemas: Record<string, JsonSchema> = {
  Problem: {
    type: "object",
    description:
      "An RFC 9457 problem document. `code` is stable: branch on it, not on `title` or `detail`. Some codes add members (e.g. `expectedVersion`, `actualVersion` for WRONG_EXPECTED_VERSION; `parameter` or `pointer` for VALIDATION_FAILED).",
    required: ["type", "title", "status", "detail", "code"],
    properties: {
      type: { type: "string", description: "`urn:eventbus:problem:<code in kebab case>`" },
      title: { type: "string" },
      status: { type: "integer", minimum: 400, maximum: 599 },
      detail: { type: "string" },
      code: { type: "string", enum: errorCodes },
    },
  },
  CloudEvent: {
    type: "object",
    description:
      "An event as it leaves the bus: CloudEvents 1.0 JSON. The producer's attributes (`source`, `time`, `subject`, `dataschema`, extensions) are kept; the bus adds `streamid`, `streamversion` and `position`.",
    required: [
      "specversion",
      "id",
      "source",
      "type",
      "subject",
      "time",
      "streamid",
      "streamversion",
      "position",
    ],
    properties: {
      specversion: { const: "1.0" },
      id: { type: "string", minLength: 1 },
      source: { type: "string", minLength: 1 },
      type: { type: "string", minLength: 1 },
      subject: { type: "string", description: "The producer's, else the stream id." },
      time: { ...timestamp, description: "The producer's, else when the event was appended." },
      datacontenttype: {
        type: "string",
        description: "The producer's, else `application/json`; absent with `data` for an event without data.",
      },
      dataschema: { type: "string" },
      data: { description: "Any JSON value; absent for an event appended without data." },
      streamid: streamIdSchema,
      streamversion: { type: "integer", minimum: 1, description: "1-based version in its stream." },
      position: {
        type: "string",
        pattern: "^[0-9]+$",
        description: "The global position as a decimal string (exact beyond 2^53).",
      },
    },
    additionalProperties: { type: ["string", "boolean", "integer"] },
  },
  JsonEvent: {
    ...requestSchema(jsonEvent),
    description: "One event in the plain JSON form (`application/json`).",
  },
  CloudEventInput: {
    type: "object",
    description:
      "A CloudEvent 1.0 in the JSON event format (structured or batch mode). `data` must be JSON (`datacontenttype` absent, `application/json` or `*/*+json`); `data_base64` is refused with 415. Extension attributes: lowercase letters and digits, at most 20 characters, string, boolean or integer values.",
    required: ["specversion", "id", "source", "type"],
    properties: {
      specversion: { const: "1.0" },
      id: { type: "string", minLength: 1 },
      source: { type: "string", minLength: 1 },
      type: { type: "string" },
      subject: { type: "string" },
      time: timestamp,
      datacontenttype: { type: "string" },
      dataschema: { type: "string" },
      data: {},
    },
  },
  AppendResult: {
    type: "object",
    required: ["streamId", "version", "events"],
    properties: {
      streamId: streamIdSchema,
      version: { type: "integer", minimum: 0, description: "The stream's version after the append." },
      events: {
        type: "array",
        items: {
          type: "object",
          required: ["id", "version", "position"],
          properties: {
            id: { type: "string" },
            version: { type: "integer", minimum: 1 },
            position: { type: ["integer", "string"], description: "The event's global position." },
          },
        },
      },
    },
  },
  StreamPage: {
    type: "object",
    required: ["streamId", "version", "events", "next"],
    properties: {
      streamId: streamIdSchema,
      version: { type: "integer", minimum: 0 },
      events: { type: "array", items: { $ref: "#/components/schemas/CloudEvent" } },
      next: {
        ...nullable({ type: "integer", minimum: 0 }),
        description: "`from` of the next page, or null.",
      },
    },
  },
  AllEventsPage: {
    type: "object",
    required: ["events", "next"],
    properties: {
      events: { type: "array", items: { $ref: "#/components/schemas/CloudEvent" } },
      next: {
        ...nullable({ type: ["integer", "string"] }),
        description: "`after` of the next page, or null when nothing more is visible yet.",
      },
    },
  },
  StreamInfo: {
    type: "object",
    required: ["streamId", "version", "createdAt", "updatedAt"],
    properties: {
      streamId: streamIdSchema,
      version: { type: "integer", minimum: 1 },
      createdAt: timestamp,
      updatedAt: timestamp,
    },
  },
  SubscriptionDefinition: {
    ...requestSchema(definitionSchema),
    description:
      "`filter` is an EventBridge-style event pattern over the CloudEvent JSON. Defaults: every event from the origin, no ordering, 5 receives before the DLQ, 30 s visibility.",
  },
  Subscription: {
    type: "object",
    required: [
      "name",
      "filter",
      "startFrom",
      "ordering",
      "maxReceiveCount",
      "visibilityTimeout",
      "queueUrl",
      "dlqUrl",
      "checkpoint",
      "head",
      "lag",
      "queueDepth",
      "dlqDepth",
      "owner",
    ],
    properties: {
      name: subscriptionNameSchema,
      filter: nullable({ type: "object" }),
      startFrom: { anyOf: [{ enum: ["origin", "current"] }, position] },
      ordering: { enum: ["none", "stream"] },
      maxReceiveCount: { type: "integer", minimum: 1 },
      visibilityTimeout: { type: "integer", minimum: 0 },
      queueUrl: { type: "string" },
      dlqUrl: { type: "string" },
      createdAt: timestamp,
      checkpoint: position,
      head: position,
      lag: { type: "integer", minimum: 0 },
      lagSeconds: { type: "number", minimum: 0 },
      ahead: {
        type: "integer",
        minimum: 0,
        description:
          "How far the checkpoint is past the last position handed out: the next that many events will never be forwarded. 0 normally.",
      },
      state: { enum: ["active", "paused", "behind", "parked", "failing"] },
      pausedAt: nullable(timestamp),
      failingSince: nullable(timestamp),
      lastError: nullable({
        type: "string",
        description:
          "Why the newest failed send to SQS failed (SQS's error code and message); kept after recovery.",
      }),
      lastErrorAt: nullable(timestamp),
      queueDepth: nullable({ type: "integer", minimum: 0 }),
      queueInFlight: nullable({ type: "integer", minimum: 0 }),
      dlqDepth: nullable({ type: "integer", minimum: 0 }),
      owner: nullable({ type: "string" }),
      parked: { type: "integer", minimum: 0 },
      lastParkedReason: nullable({ type: "string" }),
    },
  },
  CaptureRequest: {
    type: "object",
    required: ["table"],
    additionalProperties: false,
    properties: {
      table: {
        type: "string",
        minLength: 1,
        maxLength: 300,
        description: "`schema.table`, e.g. `public.orders`.",
      },
      replicaIdentityFull: {
        type: "boolean",
        description: "Set REPLICA IDENTITY FULL so that updates and deletes carry the whole old row.",
      },
    },
  },
  Capture: {
    type: "object",
    required: ["name", "table", "keyColumns", "slot", "active", "lagBytes", "lagSeconds", "lastError"],
    properties: {
      name: captureNameSchema,
      table: { type: "string" },
      keyColumns: { type: "array", items: { type: "string" } },
      replicaIdentity: nullable({ enum: ["default", "full", "index", "nothing"] }),
      slot: { type: "string" },
      active: { type: "boolean" },
      confirmedLsn: nullable({ type: "string" }),
      appliedLsn: nullable({ type: "string" }),
      lagBytes: { type: "integer", minimum: 0 },
      lagSeconds: { type: "number", minimum: 0 },
      walStatus: nullable({ type: "string" }),
      lastError: nullable({ type: "string" }),
      lastErrorAt: nullable(timestamp),
      createdAt: timestamp,
    },
  },
  Operator: {
    type: "object",
    required: ["name", "checkpoint", "head", "lag", "attempts", "lastError", "parked", "recentParked"],
    properties: {
      name: { type: "string" },
      checkpoint: position,
      head: position,
      lag: { type: "integer", minimum: 0 },
      attempts: { type: "integer", minimum: 0 },
      lastError: nullable({ type: "string" }),
      lastErrorAt: nullable(timestamp),
      parked: { type: "integer", minimum: 0 },
      recentParked: {
        type: "array",
        items: {
          type: "object",
          required: ["position", "eventId", "error", "attempts", "parkedAt"],
          properties: {
            position,
            eventId: { type: "string" },
            error: { type: "string" },
            attempts: { type: "integer" },
            parkedAt: timestamp,
          },
        },
      },
      replayFrom: nullable(position),
      owner: nullable({ type: "string" }),
      updatedAt: timestamp,
    },
  },
  SubscriptionList: {
    type: "object",
    required: ["subscriptions"],
    properties: { subscriptions: { type: "array", items: { $ref: "#/components/schemas/Subscription" } } },
  },
  ReplayRequest: requestSchema(replaySchema),
  ReplayResult: {
    type: "object",
    required: ["name", "checkpoint"],
    properties: {
      name: subscriptionNameSchema,
      checkpoint: { ...position, description: "Delivery resumes after this position." },
    },
  },
  RedriveResult: {
    type: "object",
    required: ["moved", "drained"],
    properties: {
      moved: { type: "integer", minimum: 0, description: "Messages moved from the DLQ back to the queue." },
      drained: {
        type: "boolean",
        description: "false when the time budget ran out first: call again to go on.",
      },
    },
  },
  MessageBody: {
    ...requestSchema(messageBody),
    description: "`data` (any JSON value, required) is what subscribers receive.",
  },
};

/** WebSocket frames a client sends, from the schemas the frame parser validates with. */
export const clientFrameSchemas: Record<string, { schema: JsonSchema; summary: string }> = {
  subscribe: {
    schema: requestSchema(subscribeFrame),
    summary:
      "Subscribe to `stream:<id>`, `category:<name>`, `$all` or any other topic; `from` replays history from that position first, then live events, with no gap and no duplicate.",
  },
  unsubscribe: { schema: requestSchema(unsubscribeFrame), summary: "Leave a topic." },
  publish: {
    schema: requestSchema(publishFrame),
    summary: "Broadcast ephemeral data to a topic's subscribers (not to stream:, category: or $all).",
  },
  ping: { schema: requestSchema(pingFrame), summary: "Keep-alive; answered with a pong." },
  auth: {
    schema: requestSchema(authFrame),
    summary: "Replace the connection's token before it expires.",
  },
  "presence.enter": {
    schema: requestSchema(presenceEnterFrame),
    summary: "Enter a topic's presence with a state.",
  },
  "presence.update": {
    schema: requestSchema(presenceUpdateFrame),
    summary: "Replace this connection's presence state.",
  },
  "presence.leave": { schema: requestSchema(presenceLeaveFrame), summary: "Leave a topic's presence." },
};

const frameId = { type: ["string", "integer"], description: "The `id` of the client frame answered." };
const presenceMember: JsonSchema = {
  type: "object",
  required: ["connectionId", "subject", "state", "seq"],
  properties: {
    connectionId: { type: "string" },
    subject: { type: "string" },
    state: {},
    seq: { type: "integer", minimum: 0 },
  },
};

/** WebSocket frames the bus sends (`ServerFrame` in lib/realtime/frames.ts). */
export const serverFrameSchemas: Record<string, { schema: JsonSchema; summary: string }> = {
  ack: {
    schema: {
      type: "object",
      required: ["type"],
      properties: {
        type: { const: "ack" },
        id: frameId,
        head: {
          type: "integer",
          minimum: 0,
          description:
            "Subscriptions to event topics: the newest position when the subscription took effect. A client that subscribed without `from` and lost its connection before its first event resubscribes with `from: head + 1`.",
        },
      },
    },
    summary: "The frame with this `id` was accepted.",
  },
  pong: {
    schema: {
      type: "object",
      required: ["type", "connectionId"],
      properties: { type: { const: "pong" }, id: frameId, connectionId: { type: "string" } },
    },
    summary: "Answer to ping; `connectionId` is what `POST /connections/{id}/messages` addresses.",
  },
  events: {
    schema: {
      type: "object",
      required: ["type", "topic", "events"],
      properties: {
        type: { const: "events" },
        topic: { type: "string" },
        events: { type: "array", items: { $ref: "#/components/schemas/CloudEvent" } },
      },
    },
    summary: "A batch of events of a subscribed topic, in position order.",
  },
  message: {
    schema: {
      type: "object",
      required: ["type", "data", "sender"],
      properties: {
        type: { const: "message" },
        topic: { type: "string" },
        data: {},
        sender: nullable({ type: "string" }),
      },
    },
    summary: "An ephemeral broadcast (with `topic`) or a direct message (without); `sender` null from HTTP.",
  },
  error: {
    schema: {
      type: "object",
      required: ["type", "code", "message"],
      properties: {
        type: { const: "error" },
        id: frameId,
        code: { type: "string", enum: errorCodes },
        message: { type: "string" },
      },
    },
    summary: "A frame was refused; the connection stays open.",
  },
  "presence.sync": {
    schema: {
      type: "object",
      required: ["type", "topic", "members"],
      properties: {
        type: { const: "presence.sync" },
        topic: { type: "string" },
        members: { type: "array", items: presenceMember },
      },
    },
    summary: "Everyone present, to a member that entered (long lists come as several frames).",
  },
  "presence.change": {
    schema: {
      type: "object",
      required: ["type", "topic", "member"],
      properties: {
        type: { enum: ["presence.join", "presence.update", "presence.leave"] },
        topic: { type: "string" },
        member: presenceMember,
      },
    },
    summary: "One member's change, to the other members; apply only if `seq` is above every seen.",
  },
};
