import { VERSION } from "../client/version.ts";
import { apiParams } from "../http/apiParams.ts";
import { defaultOf, isRepeatable, type RouteParams } from "../http/routeParams.ts";
import { componentSchemas, type JsonSchema, requestSchema, streamIdSchema } from "./schemas.ts";

/** What an operation is, as the document says it; the route table says which ones exist. */
interface Operation {
  summary: string;
  description?: string;
  tags: string[];
  /** No bearer token needed. */
  public?: boolean;
  /** Only for a route without declared parameters (`lib/http/apiParams.ts` is where they are declared). */
  parameters?: JsonSchema[];
  requestBody?: JsonSchema;
  /** Status -> response object (problem responses are added from `errors`). */
  responses: Record<string, JsonSchema>;
  /** Error statuses this operation can answer with a problem document (401/403 are added unless public). */
  errors: number[];
}

export interface OpenApiOptions {
  /** The route keys the HTTP API serves (`functions/http/routes.ts`), e.g. `GET /streams/{streamId}`. */
  routeKeys: readonly string[];
  /** Where the API is served, when known (the request's own origin). */
  serverUrl?: string;
}

const problemContent = { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } };
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonResponse = (description: string, schema: JsonSchema) => ({
  description,
  content: { "application/json": { schema } },
});
const pathParam = (name: string, schema: JsonSchema, description?: string) => ({
  name,
  in: "path",
  required: true,
  schema,
  ...(description ? { description } : {}),
});

/**
 * The OpenAPI parameter objects of a route, from the zod schemas its handler validates with, converted as
 * request bodies are (`requestSchema`): a schema's `describe()` becomes the parameter's description, an
 * array schema a repeatable (`explode`) query parameter, `default()` the schema's `default`, and a query
 * parameter without `optional()` or `default()` a required one.
 */
export function parameterObjects(params: RouteParams): JsonSchema[] {
  const objects: JsonSchema[] = [];
  for (const [where, object] of [
    ["path", params.path],
    ["query", params.query],
  ] as const) {
    const { properties = {}, required = [] } = requestSchema(object) as {
      properties?: Record<string, JsonSchema>;
      required?: string[];
    };
    for (const [name, { description, ...schema }] of Object.entries(properties)) {
      const field = object.shape[name] as Parameters<typeof isRepeatable>[0];
      const fallback = defaultOf(field);
      objects.push({
        name,
        in: where,
        required: where === "path" || required.includes(name),
        schema: fallback && !("default" in schema) ? { ...schema, default: fallback.value } : schema,
        ...(typeof description === "string" ? { description } : {}),
        ...(isRepeatable(field) ? { explode: true } : {}),
      });
    }
  }
  return objects;
}

const globalPosition = { type: "integer", minimum: 0, description: "A global position." };
const nullable = (schema: JsonSchema): JsonSchema => ({ anyOf: [schema, { type: "null" }] });
/** An object with these members required (and others allowed: responses may grow). */
const objectWith = (properties: Record<string, JsonSchema>): JsonSchema => ({
  type: "object",
  required: Object.keys(properties),
  properties,
});
const jsonBody = (schema: JsonSchema, required = true) => ({
  required,
  content: { "application/json": { schema } },
});

const errorDescriptions: Record<number, string> = {
  400: "VALIDATION_FAILED: the problem names the field or parameter and the rule it breaks.",
  401: "UNAUTHORIZED: missing, malformed or expired bearer token.",
  403: "FORBIDDEN: the token lacks the scope, or its `streams` patterns exclude the stream or topic.",
  404: "Not found (STREAM_NOT_FOUND, SUBSCRIPTION_NOT_FOUND, ...).",
  409: "Conflict (WRONG_EXPECTED_VERSION, DUPLICATE_EVENT_ID, SUBSCRIPTION_CONFLICT, CAPTURE_CONFLICT).",
  410: "CONNECTION_GONE: the connection no longer exists.",
  413: "PAYLOAD_TOO_LARGE: the body, an event or a message exceeds a delivery limit.",
  415: "UNSUPPORTED_MEDIA_TYPE",
  422: "CAPTURE_NOT_POSSIBLE: the database cannot do what was asked; the detail says why.",
};

/** The documented operations, by API Gateway route key. */
const operations: Record<string, Operation> = {
  "POST /streams/{streamId}/events": {
    summary: "Append events to a stream",
    description:
      "One event or an array, as plain JSON (`application/json`) or CloudEvents 1.0 (`application/cloudevents+json`, `application/cloudevents-batch+json`, or binary mode with `ce-*` headers). Re-sending events whose ids are already in the stream is an idempotent success that appends nothing.",
    tags: ["Streams"],
    requestBody: {
      required: true,
      content: {
        "application/json": {
          schema: { anyOf: [ref("JsonEvent"), { type: "array", items: ref("JsonEvent") }] },
        },
        "application/cloudevents+json": { schema: ref("CloudEventInput") },
        "application/cloudevents-batch+json": { schema: { type: "array", items: ref("CloudEventInput") } },
      },
    },
    responses: {
      "201": jsonResponse("Appended (or already there).", ref("AppendResult")),
      "200": jsonResponse(
        "An empty CloudEvents batch: nothing stored; the stream's version (expectedVersion still checked).",
        ref("AppendResult"),
      ),
    },
    errors: [400, 409, 413, 415],
  },
  "GET /streams/{streamId}/events": {
    summary: "Read a stream's events",
    tags: ["Streams"],
    responses: { "200": jsonResponse("A page of events.", ref("StreamPage")) },
    errors: [400, 404],
  },
  "GET /streams/{streamId}": {
    summary: "A stream's version and timestamps",
    tags: ["Streams"],
    responses: { "200": jsonResponse("The stream.", ref("StreamInfo")) },
    errors: [400, 404],
  },
  "GET /events": {
    summary: "Read all streams in global order",
    description:
      "A token bounded by `streams` sees only its streams. `type` and `category` may be repeated (any of).",
    tags: ["Streams"],
    responses: { "200": jsonResponse("A page of events.", ref("AllEventsPage")) },
    errors: [400],
  },
  "POST /topics/{topic}/messages": {
    summary: "Broadcast to a topic's WebSocket subscribers",
    description:
      "Ephemeral: nothing is stored. `stream:`, `category:` and `$all` are refused (append instead).",
    tags: ["Realtime"],
    requestBody: jsonBody(ref("MessageBody")),
    responses: {
      "202": jsonResponse("Accepted for fan-out.", {
        type: "object",
        required: ["topic"],
        properties: { topic: { type: "string" } },
      }),
    },
    errors: [400, 413],
  },
  "POST /connections/{connectionId}/messages": {
    summary: "Send to one WebSocket connection",
    tags: ["Realtime"],
    requestBody: jsonBody(ref("MessageBody")),
    responses: {
      "202": jsonResponse("Sent.", {
        type: "object",
        required: ["connectionId"],
        properties: { connectionId: { type: "string" } },
      }),
    },
    errors: [400, 410, 413],
  },
  "GET /subscriptions": {
    summary: "List subscriptions with their status",
    tags: ["Subscriptions"],
    responses: { "200": jsonResponse("Every subscription.", ref("SubscriptionList")) },
    errors: [],
  },
  "PUT /subscriptions/{name}": {
    summary: "Create a subscription (idempotent)",
    description:
      "Creates the subscription with its queue and DLQ (201); an identical definition is a no-op (200); a different one is a 409.",
    tags: ["Subscriptions"],
    requestBody: jsonBody(ref("SubscriptionDefinition"), false),
    responses: {
      "201": jsonResponse("Created.", ref("Subscription")),
      "200": jsonResponse("Already there with this definition.", ref("Subscription")),
    },
    errors: [400, 409],
  },
  "GET /subscriptions/{name}": {
    summary: "A subscription's definition, queues, checkpoint, lag and owner",
    tags: ["Subscriptions"],
    responses: { "200": jsonResponse("The subscription.", ref("Subscription")) },
    errors: [400, 404],
  },
  "DELETE /subscriptions/{name}": {
    summary: "Delete a subscription, its checkpoint, queue and DLQ",
    tags: ["Subscriptions"],
    responses: { "204": { description: "Deleted." } },
    errors: [400, 404],
  },
  "POST /subscriptions/{name}/replay": {
    summary: "Deliver events again from a position",
    tags: ["Subscriptions"],
    requestBody: jsonBody(ref("ReplayRequest")),
    responses: { "200": jsonResponse("The checkpoint moved.", ref("ReplayResult")) },
    errors: [400, 404],
  },
  "POST /subscriptions/{name}/redrive": {
    summary: "Send parked events again and move the DLQ's messages back to the queue",
    tags: ["Subscriptions"],
    responses: { "200": jsonResponse("What was moved.", ref("RedriveResult")) },
    errors: [400, 404],
  },
  "GET /captures": {
    summary: "Change captures of application tables, with their slot's lag",
    tags: ["Change capture"],
    responses: {
      "200": jsonResponse(
        "Every capture.",
        objectWith({ captures: { type: "array", items: ref("Capture") } }),
      ),
    },
    errors: [],
  },
  "PUT /captures/{name}": {
    summary: "Capture a table's changes as events (idempotent)",
    description:
      "From then on every committed insert, update and delete of the table is appended as `<name>.inserted|updated|deleted` in stream `<name>-<key>`. 201 created, 200 the same capture exists, 409 a different one, 422 when Postgres cannot (the problem's `reason`). Needs `admin`.",
    tags: ["Change capture"],
    requestBody: jsonBody(ref("CaptureRequest")),
    responses: {
      "201": jsonResponse("Created.", ref("Capture")),
      "200": jsonResponse("Already captured so.", ref("Capture")),
    },
    errors: [400, 409, 415, 422],
  },
  "GET /captures/{name}": {
    summary: "A capture: slot, confirmed and applied LSN, lag in bytes and seconds, last error",
    tags: ["Change capture"],
    responses: { "200": jsonResponse("The capture.", ref("Capture")) },
    errors: [400, 404],
  },
  "DELETE /captures/{name}": {
    summary: "Stop capturing a table (the last capture drops the replication slot)",
    tags: ["Change capture"],
    responses: { "204": { description: "Deleted." } },
    errors: [400, 404],
  },
  "GET /operators": {
    summary: "Operators the listeners run, with checkpoint, lag and errors",
    tags: ["Operators"],
    responses: {
      "200": jsonResponse(
        "Every operator.",
        objectWith({ operators: { type: "array", items: ref("Operator") } }),
      ),
    },
    errors: [],
  },
  "GET /operators/{name}": {
    summary: "An operator: checkpoint, head, lag, attempts, last error and parked events",
    tags: ["Operators"],
    responses: { "200": jsonResponse("The operator.", ref("Operator")) },
    errors: [404],
  },
  "POST /operators/{name}/replay": {
    summary: "Apply events again from a position (the operator's reset runs first)",
    tags: ["Operators"],
    requestBody: jsonBody({
      type: "object",
      required: ["from"],
      additionalProperties: false,
      properties: { from: { anyOf: [{ const: "origin" }, { type: "integer", minimum: 0 }] } },
    }),
    responses: {
      "202": jsonResponse(
        "The owner will reset and re-apply.",
        objectWith({ name: { type: "string" }, replayAfter: globalPosition }),
      ),
    },
    errors: [400, 404, 415],
  },
  "GET /streams": {
    summary: "List streams in id order",
    description:
      "A token bounded by `streams` lists only its streams. `next` is the `after` of the next page.",
    tags: ["Streams"],
    responses: {
      "200": jsonResponse(
        "A page of streams.",
        objectWith({
          streams: {
            type: "array",
            items: objectWith({
              streamId: streamIdSchema,
              category: { type: "string" },
              version: { type: "integer" },
            }),
          },
          next: nullable({ type: "string" }),
        }),
      ),
    },
    errors: [400],
  },
  "GET /subscriptions/{name}/parked": {
    summary: "Events SQS refused for good, with each one's reason",
    description: "In position order; `POST .../redrive` sends them again.",
    tags: ["Subscriptions"],
    responses: {
      "200": jsonResponse(
        "A page of parked events.",
        objectWith({
          parked: {
            type: "array",
            items: objectWith({ position: { type: "string" }, reason: { type: "string" } }),
          },
          next: nullable({ type: "string" }),
        }),
      ),
    },
    errors: [400, 404],
  },
  "GET /subscriptions/{name}/dead-letters": {
    summary: "Messages in a subscription's dead-letter queue, looked at and left there",
    description:
      "Oldest first, at most `limit` (1..50, default 10). Received with a visibility timeout of 0, so they stay in the DLQ for `POST .../redrive`; looking counts as a receive (`receiveCount` grows by one). Bodies above 8 KiB are cut (`truncated`).",
    tags: ["Subscriptions"],
    responses: {
      "200": jsonResponse(
        "A sample of the DLQ's messages.",
        objectWith({
          deadLetters: {
            type: "array",
            items: objectWith({
              messageId: { type: "string" },
              body: { type: "string" },
              bodyBytes: { type: "integer", minimum: 0 },
              truncated: { type: "boolean" },
              receiveCount: { type: "integer", minimum: 0 },
              firstReceivedAt: nullable({ type: "string", format: "date-time" }),
              sentAt: nullable({ type: "string", format: "date-time" }),
              attributes: { type: "object", additionalProperties: { type: "string" } },
            }),
          },
        }),
      ),
    },
    errors: [400, 404],
  },
  "GET /topics/{topic}/presence": {
    summary: "Who is present on a topic",
    description: "As a `presence.sync` frame lists them.",
    tags: ["Realtime"],
    responses: {
      "200": jsonResponse(
        "The members.",
        objectWith({ topic: { type: "string" }, members: { type: "array", items: { type: "object" } } }),
      ),
    },
    errors: [400],
  },
  "GET /realtime/connections": {
    summary: "WebSocket connections with their subject and topics (admin)",
    tags: ["Realtime"],
    responses: {
      "200": jsonResponse(
        "A page of connections.",
        objectWith({
          connections: {
            type: "array",
            items: objectWith({
              subject: { type: "string" },
              topics: { type: "array", items: { type: "string" } },
            }),
          },
          next: nullable({ type: "string" }),
        }),
      ),
    },
    errors: [400],
  },
  "GET /health": {
    summary: "Liveness",
    tags: ["Operations"],
    public: true,
    responses: {
      "200": jsonResponse(
        "Running; `version` is the package version the bus runs.",
        objectWith({ status: { const: "ok" }, version: { type: "string" } }),
      ),
    },
    errors: [],
  },
  "GET /health/ready": {
    summary: "Readiness: Postgres answers and a listener's heartbeat is fresh",
    tags: ["Operations"],
    public: true,
    responses: {
      "200": jsonResponse("Ready.", objectWith({ status: { const: "ready" } })),
      "503": jsonResponse(
        "Not ready; the body says which part.",
        objectWith({ status: { const: "unavailable" } }),
      ),
    },
    errors: [],
  },
  "GET /openapi.json": {
    summary: "This document",
    tags: ["Documentation"],
    public: true,
    responses: { "200": jsonResponse("OpenAPI 3.1.", { type: "object" }) },
    errors: [],
  },
  "GET /asyncapi.json": {
    summary: "The AsyncAPI 3 document of the WebSocket frames and the SQS messages",
    tags: ["Documentation"],
    public: true,
    responses: { "200": jsonResponse("AsyncAPI 3.0.", { type: "object" }) },
    errors: [],
  },
  "GET /docs": {
    summary: "A readable reference of both documents",
    tags: ["Documentation"],
    public: true,
    responses: { "200": { description: "HTML.", content: { "text/html": { schema: { type: "string" } } } } },
    errors: [],
  },
};

/** Route keys the document describes in full; any other served route gets a minimal entry. */
export const documentedRouteKeys = Object.keys(operations);

/** A route this module does not describe yet: listed, with the problem responses every route can give. */
function undocumented(routeKey: string): Operation {
  const path = routeKey.split(" ")[1] ?? "";
  return {
    summary: routeKey,
    description: "Not described in detail yet.",
    tags: ["Other"],
    parameters: [...path.matchAll(/\{(\w+)\+?\}/g)].map((m) => pathParam(m[1]!, { type: "string" })),
    responses: { "200": jsonResponse("Success.", {}) },
    errors: [400, 404],
  };
}

function toOperationObject(routeKey: string, operation: Operation): JsonSchema {
  const declared = (apiParams as Record<string, RouteParams>)[routeKey];
  const parameters = declared ? parameterObjects(declared) : (operation.parameters ?? []);
  const responses: Record<string, unknown> = { ...operation.responses };
  const errors = new Set(operation.errors);
  if (!operation.public) {
    errors.add(401);
    errors.add(403);
  }
  for (const status of [...errors].sort()) {
    responses[String(status)] = {
      description: errorDescriptions[status] ?? "Problem",
      content: problemContent,
    };
  }
  responses.default = {
    description: "Any other error (429, 500, 503), as a problem document.",
    content: problemContent,
  };
  return {
    operationId: operationId(routeKey),
    summary: operation.summary,
    ...(operation.description ? { description: operation.description } : {}),
    tags: operation.tags,
    ...(operation.public ? { security: [] } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(operation.requestBody ? { requestBody: operation.requestBody } : {}),
    responses,
  };
}

/** `POST /streams/{streamId}/events` -> `postStreamsStreamIdEvents`. */
function operationId(routeKey: string): string {
  const [method = "", path = ""] = routeKey.split(" ");
  const words = path
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1));
  return method.toLowerCase() + words.join("");
}

/**
 * The OpenAPI 3.1 document of the HTTP API. Request bodies come from the zod schemas the routes validate
 * with (see schemas.ts); every route the API serves is listed, and the catch-all `$default` (404
 * ROUTE_NOT_FOUND) is not an operation.
 *
 * @example
 * ```ts
 * const doc = openApiDocument({ routeKeys: httpRoutes.map((r) => r.routeKey) });
 * ```
 */
export function openApiDocument(options: OpenApiOptions): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const routeKey of options.routeKeys) {
    if (routeKey === "$default") continue;
    const [method = "", routePath = ""] = routeKey.split(" ");
    // API Gateway's greedy `{name+}` is a plain `{name}` in OpenAPI (which has no multi-segment parameter).
    const path = routePath.replace(/\{(\w+)\+\}/g, "{$1}");
    const operation = operations[routeKey] ?? undocumented(routeKey);
    paths[path] = { ...paths[path], [method.toLowerCase()]: toOperationObject(routeKey, operation) };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Event bus HTTP API",
      // The package version: the document describes the API of exactly this release.
      version: VERSION,
      description:
        "Append and read events, manage persistent subscriptions (one SQS queue each) and broadcast to WebSocket clients. Errors are `application/problem+json` with a stable `code`. The WebSocket frames and the SQS message format are in the AsyncAPI document at `/asyncapi.json`.",
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    security: [{ bearerAuth: [] }],
    tags: [
      { name: "Streams", description: "The event store." },
      { name: "Subscriptions", description: "Persistent subscriptions: an SQS queue and DLQ each." },
      { name: "Realtime", description: "Ephemeral messages to WebSocket clients." },
      { name: "Captures", description: "Change data capture: application tables' changes as events." },
      { name: "Operations", description: "Health probes." },
      { name: "Documentation" },
      { name: "Other" },
    ],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description:
            "Claims: `scope` (space-separated: events:write events:read subscriptions:manage realtime:subscribe realtime:publish admin) and optional `streams` (glob patterns bounding stream ids and topics).",
        },
      },
      schemas: componentSchemas,
    },
  };
}
