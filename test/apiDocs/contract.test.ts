import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule, { type FormatsPlugin } from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpRoutes } from "../../functions/http/routes.ts";
import { asyncApiDocument } from "../../lib/apiDocs/asyncApi.ts";
import { documentedRouteKeys, openApiDocument } from "../../lib/apiDocs/openApi.ts";
import { uniquePrefix } from "../listener/support.ts";
import { type RealtimeHarness, startRealtimeHarness } from "../realtime/support.ts";

// ajv-formats is CommonJS with a `default` export beside the module object.
const addFormats = ((addFormatsModule as any).default ?? addFormatsModule) as FormatsPlugin;

const openApi = openApiDocument({ routeKeys: httpRoutes.map((r) => r.routeKey) }) as any;
const asyncApi = asyncApiDocument() as any;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);

/** Validates `value` against a schema of a document, resolving its `#/components/...` references. */
function validator(schema: object, components: object) {
  return ajv.compile({ ...schema, components });
}

let bus: RealtimeHarness;
let token: (scope: string, streams?: string[]) => Promise<string>;
/** Operations a test called, as `GET /streams/{streamId}`. */
const exercised = new Set<string>();

beforeAll(async () => {
  // Queues of this file's own in the shared SQS stand-in; the handlers read it from the environment.
  process.env.EVENTBUS_QUEUE_PREFIX = uniquePrefix("contract");
  bus = await startRealtimeHarness();
  token = (scope, streams) => bus.token(scope, streams);
}, 60_000);
afterAll(async () => {
  await bus?.close();
});

interface Call {
  body?: unknown;
  rawBody?: string;
  contentType?: string;
  /** `null`: no Authorization header. Default: an admin token. */
  token?: string | null;
}

/**
 * Sends a real request and checks the answer against the OpenAPI document: the operation exists, the status
 * is one it declares, the content type is the declared one, and the body validates against its schema.
 */
async function call(method: string, template: string, path: string, options: Call = {}) {
  const headers: Record<string, string> = {};
  const bearer = options.token === undefined ? await token("admin") : options.token;
  if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
  let body = options.rawBody;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers["content-type"] = options.contentType ?? "application/json";
  const response = await fetch(`${bus.api.baseUrl}${path}`, { method, headers, body });
  const text = await response.text();
  const contentType = response.headers.get("content-type")?.split(";")[0]?.trim();

  const operation = openApi.paths[template]?.[method.toLowerCase()];
  expect(operation, `${method} ${template} is in the document`).toBeDefined();
  exercised.add(`${method} ${template}`);
  const declared = operation.responses[String(response.status)];
  expect(
    declared,
    `${method} ${path} answered ${response.status}, which the document declares`,
  ).toBeDefined();
  if (!declared.content) {
    expect(text).toBe("");
    return { status: response.status, body: undefined, text };
  }
  expect(Object.keys(declared.content), `${method} ${path} ${response.status} content type`).toContain(
    contentType,
  );
  const parsed = contentType?.endsWith("json") ? JSON.parse(text) : text;
  const validate = validator(declared.content[contentType!].schema, openApi.components);
  const valid = validate(parsed);
  expect(
    valid ? [] : validate.errors,
    `${method} ${path} ${response.status} body matches the document: ${text.slice(0, 300)}`,
  ).toEqual([]);
  return { status: response.status, body: parsed, text };
}

describe("every route's real responses validate against the OpenAPI document", () => {
  it("streams: append in each content type, read, stream info, read all, and their errors", async () => {
    const stream = "contract-1";
    const events = `/streams/${stream}/events`;
    const append = (options: Call) => call("POST", "/streams/{streamId}/events", events, options);
    expect((await append({ body: { type: "A", data: { n: 1 } } })).status).toBe(201);
    expect((await append({ body: [{ type: "B" }, { type: "C", id: "c-1" }] })).status).toBe(201);
    const cloudEvent = { specversion: "1.0", id: "ce-1", source: "urn:test", type: "D", data: { ok: true } };
    expect((await append({ body: cloudEvent, contentType: "application/cloudevents+json" })).status).toBe(
      201,
    );
    expect(
      (
        await append({
          body: [{ ...cloudEvent, id: "ce-2" }],
          contentType: "application/cloudevents-batch+json",
        })
      ).status,
    ).toBe(201);
    const conflict = await call("POST", "/streams/{streamId}/events", `${events}?expectedVersion=1`, {
      body: { type: "E" },
    });
    expect(conflict.body.code).toBe("WRONG_EXPECTED_VERSION");
    expect((await append({ body: { data: 1 } })).body.code).toBe("VALIDATION_FAILED");
    expect((await append({ rawBody: "x", contentType: "text/plain" })).status).toBe(415);
    expect((await append({ body: { type: "A" }, token: null })).status).toBe(401);
    expect((await append({ body: { type: "A" }, token: await token("events:read") })).status).toBe(403);
    expect((await append({ body: { type: "A", data: "x".repeat(1_100_000) } })).status).toBe(413);

    const read = await call("GET", "/streams/{streamId}/events", `${events}?limit=2`);
    expect(read.body.events).toHaveLength(2);
    expect(read.body.next).toBe(3);
    expect((await call("GET", "/streams/{streamId}/events", `${events}?direction=backward`)).status).toBe(
      200,
    );
    expect((await call("GET", "/streams/{streamId}/events", `${events}?limit=0`)).status).toBe(400);
    expect((await call("GET", "/streams/{streamId}/events", "/streams/contract-none/events")).status).toBe(
      404,
    );

    expect((await call("GET", "/streams/{streamId}", `/streams/${stream}`)).body.version).toBe(5);
    expect((await call("GET", "/streams/{streamId}", "/streams/contract-none")).status).toBe(404);
    expect((await call("GET", "/streams/{streamId}", "/streams/-bad")).status).toBe(400);

    const all = await call("GET", "/events", "/events?limit=3&type=A&type=D");
    expect(all.body.events.map((e: any) => e.type)).toEqual(["A", "D", "D"]);
    expect((await call("GET", "/events", "/events?after=x")).status).toBe(400);
    expect((await call("GET", "/events", "/events", { token: await token("events:write") })).status).toBe(
      403,
    );
  });

  it("subscriptions: create, get, list, replay, redrive, delete, and their errors", async () => {
    const put = (name: string, body: unknown) =>
      call("PUT", "/subscriptions/{name}", `/subscriptions/${name}`, { body });
    expect((await put("contract", { ordering: "stream" })).status).toBe(201);
    expect((await put("contract", { ordering: "stream" })).status).toBe(200);
    expect((await put("contract", { ordering: "none" })).body.code).toBe("SUBSCRIPTION_CONFLICT");
    expect((await put("contract-2", { ordering: "sideways" })).status).toBe(400);
    expect((await put("bad name!", {})).status).toBe(400);
    const asReader = await call("PUT", "/subscriptions/{name}", "/subscriptions/x", {
      body: {},
      token: await token("events:read"),
    });
    expect(asReader.status).toBe(403);

    expect((await call("GET", "/subscriptions", "/subscriptions")).body.subscriptions.length).toBeGreaterThan(
      0,
    );
    expect((await call("GET", "/subscriptions/{name}", "/subscriptions/contract")).body.ordering).toBe(
      "stream",
    );
    expect((await call("GET", "/subscriptions/{name}", "/subscriptions/missing")).status).toBe(404);

    const replay = "/subscriptions/{name}/replay";
    expect(
      (await call("POST", replay, "/subscriptions/contract/replay", { body: { from: "origin" } })).status,
    ).toBe(200);
    expect(
      (await call("POST", replay, "/subscriptions/contract/replay", { body: { from: -1 } })).status,
    ).toBe(400);
    expect((await call("POST", replay, "/subscriptions/missing/replay", { body: { from: 0 } })).status).toBe(
      404,
    );

    const redrive = await call("POST", "/subscriptions/{name}/redrive", "/subscriptions/contract/redrive");
    expect(redrive.body).toMatchObject({ moved: 0 });
    expect(
      (await call("POST", "/subscriptions/{name}/redrive", "/subscriptions/missing/redrive")).status,
    ).toBe(404);

    expect((await call("DELETE", "/subscriptions/{name}", "/subscriptions/contract")).status).toBe(204);
    expect((await call("DELETE", "/subscriptions/{name}", "/subscriptions/contract")).status).toBe(404);
  });

  it("realtime: broadcast to a topic and message a live connection, and their errors", async () => {
    const topic = "/topics/{topic}/messages";
    expect(
      (await call("POST", topic, "/topics/room:lobby/messages", { body: { data: { hi: 1 } } })).status,
    ).toBe(202);
    expect((await call("POST", topic, "/topics/room:lobby/messages", { body: {} })).status).toBe(400);
    expect(
      (await call("POST", topic, "/topics/room:lobby/messages", { rawBody: "{", token: null })).status,
    ).toBe(401);

    const client = await bus.connect();
    const pong = await client.request({ action: "ping" });
    const direct = "/connections/{connectionId}/messages";
    const sent = await call("POST", direct, `/connections/${pong.connectionId}/messages`, {
      body: { data: "hi" },
    });
    expect(sent.status).toBe(202);
    expect(await client.next((f) => f.type === "message")).toMatchObject({ data: "hi" });
    expect(
      (await call("POST", direct, "/connections/Zm9vYmFyMTIzNDU=/messages", { body: { data: 1 } })).status,
    ).toBe(410);
    expect(
      (await call("POST", direct, `/connections/${pong.connectionId}/messages`, { body: [] })).status,
    ).toBe(400);
    client.close();
  });

  it("listings, presence, captures and health probes, and their errors", async () => {
    await call("POST", "/streams/{streamId}/events", "/streams/listing-1/events", { body: { type: "A" } });
    const streams = await call("GET", "/streams", "/streams?prefix=listing-");
    expect(streams.body.streams.map((s: any) => s.streamId)).toEqual(["listing-1"]);
    expect((await call("GET", "/streams", "/streams?limit=0")).status).toBe(400);

    await call("PUT", "/subscriptions/{name}", "/subscriptions/parking", { body: {} });
    const parked = await call("GET", "/subscriptions/{name}/parked", "/subscriptions/parking/parked");
    expect(parked.body.parked).toEqual([]);
    expect((await call("GET", "/subscriptions/{name}/parked", "/subscriptions/missing/parked")).status).toBe(
      404,
    );
    const deadLetters = "/subscriptions/{name}/dead-letters";
    expect((await call("GET", deadLetters, "/subscriptions/parking/dead-letters")).body.deadLetters).toEqual(
      [],
    );
    expect((await call("GET", deadLetters, "/subscriptions/parking/dead-letters?limit=0")).status).toBe(400);
    expect((await call("GET", deadLetters, "/subscriptions/missing/dead-letters")).status).toBe(404);

    const presence = await call("GET", "/topics/{topic}/presence", "/topics/room:lobby/presence");
    expect(presence.body).toEqual({ topic: "room:lobby", members: [] });
    const connections = await call("GET", "/realtime/connections", "/realtime/connections");
    expect(Array.isArray(connections.body.connections)).toBe(true);
    expect((await call("GET", "/realtime/connections", "/realtime/connections?cursor=nope")).status).toBe(
      400,
    );
    const asReader = await call("GET", "/realtime/connections", "/realtime/connections", {
      token: await token("events:read"),
    });
    expect(asReader.status).toBe(403);

    expect((await call("GET", "/captures", "/captures")).body.captures).toEqual([]);
    expect((await call("GET", "/captures/{name}", "/captures/missing")).status).toBe(404);
    expect((await call("PUT", "/captures/{name}", "/captures/orders", { body: { nope: 1 } })).status).toBe(
      400,
    );
    expect([204, 404]).toContain((await call("DELETE", "/captures/{name}", "/captures/missing")).status);
    await bus.api.db
      .sql`create table if not exists public.contract_orders (id int primary key, total numeric)`;
    await bus.api.db.sql`create table if not exists public.contract_nokey (a int)`;
    await bus.api.db.sql`create table if not exists public.contract_other (id int primary key)`;
    const created = await call("PUT", "/captures/{name}", "/captures/contract_orders", {
      body: { table: "public.contract_orders", replicaIdentityFull: true },
    });
    expect(created.status).toBe(201);
    expect(
      (
        await call("PUT", "/captures/{name}", "/captures/contract_orders", {
          body: { table: "contract_orders" },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await call("PUT", "/captures/{name}", "/captures/contract_orders", {
          body: { table: "contract_other" },
        })
      ).body.code,
    ).toBe("CAPTURE_CONFLICT");
    expect(
      (await call("PUT", "/captures/{name}", "/captures/nokey", { body: { table: "contract_nokey" } })).body,
    ).toMatchObject({ code: "CAPTURE_NOT_POSSIBLE", reason: "no_key" });
    expect((await call("GET", "/captures/{name}", "/captures/contract_orders")).body.table).toBe(
      "public.contract_orders",
    );
    expect((await call("GET", "/captures", "/captures")).body.captures).toHaveLength(1);
    expect((await call("DELETE", "/captures/{name}", "/captures/contract_orders")).status).toBe(204);

    // No listener runs operators here: the list is empty and a named one is unknown.
    expect((await call("GET", "/operators", "/operators")).body.operators).toEqual([]);
    expect((await call("GET", "/operators/{name}", "/operators/missing")).body.code).toBe(
      "OPERATOR_NOT_FOUND",
    );
    const replay = (body: unknown) =>
      call("POST", "/operators/{name}/replay", "/operators/missing/replay", { body });
    expect((await replay({ from: "origin" })).status).toBe(404);
    expect((await replay({ from: -1 })).status).toBe(400);

    const packageVersion = JSON.parse(readFileSync("package.json", "utf8")).version;
    expect((await call("GET", "/health", "/health", { token: null })).body).toEqual({
      status: "ok",
      version: packageVersion,
    });
    // No listener runs in this file: readiness says so with a 503 the document declares.
    expect([200, 503]).toContain(
      (await call("GET", "/health/ready", "/health/ready", { token: null })).status,
    );
  });

  it("documentation: both documents and the page, without a token", async () => {
    const served = await call("GET", "/openapi.json", "/openapi.json", { token: null });
    expect(served.body.openapi).toBe("3.1.0");
    expect(served.body.info.version).toBe(JSON.parse(readFileSync("package.json", "utf8")).version);
    expect(served.body.servers[0].url).toBe(bus.api.baseUrl);
    expect((await call("GET", "/asyncapi.json", "/asyncapi.json", { token: null })).body.asyncapi).toBe(
      "3.0.0",
    );
    const page = await call("GET", "/docs", "/docs", { token: null });
    expect(page.text).toContain("POST</span> <code>/streams/{streamId}/events</code>");
    // Self-contained: nothing loaded from elsewhere.
    expect(page.text).not.toMatch(/<script|<link|src=|https?:\/\/(?!localhost)/);
  });

  it("covered every operation the document describes in full", () => {
    const served = httpRoutes.map((r) => r.routeKey);
    const described = documentedRouteKeys.filter((key) => served.includes(key));
    expect(described.length).toBeGreaterThan(10);
    expect(described.filter((key) => !exercised.has(key))).toEqual([]);
  });
});

describe("the query parameters the OpenAPI document describes are the ones the handlers enforce", () => {
  /** Values just inside and just outside a documented parameter schema, when it has bounds. */
  function probes(schema: any): { inside: string[]; outside: string[] } {
    const items = schema.type === "array" ? schema.items : schema;
    if (items.type === "integer") {
      const inside = [String(items.minimum ?? 0)];
      const outside = items.minimum === undefined ? [] : [String(items.minimum - 1)];
      if (items.maximum !== undefined) {
        inside.push(String(items.maximum));
        outside.push(String(items.maximum + 1));
      }
      outside.push("1.5", "x");
      return { inside, outside };
    }
    if (items.type === "string" && items.maxLength !== undefined) {
      return {
        inside: ["a".repeat(items.minLength ?? 1), "a".repeat(items.maxLength)],
        outside: ["a".repeat(items.maxLength + 1)],
      };
    }
    if (Array.isArray(items.enum)) return { inside: items.enum, outside: ["sideways"] };
    return { inside: [], outside: [] };
  }

  it("accepts every documented bound and refuses one past it, naming the parameter (path parameters too)", async () => {
    // Path parameters that exist, so that only the query decides the answer.
    await call("POST", "/streams/{streamId}/events", "/streams/bounds-1/events", { body: { type: "A" } });
    await call("PUT", "/subscriptions/{name}", "/subscriptions/bounds", { body: {} });
    const fill = (template: string) => template.replace("{streamId}", "bounds-1").replace("{name}", "bounds");
    const drift: string[] = [];
    for (const [template, operations] of Object.entries<any>(openApi.paths)) {
      const operation = operations.get;
      if (!operation) continue;
      for (const parameter of operation.parameters ?? []) {
        if (parameter.in === "path") {
          // Past a documented path rule: a character outside its pattern, one character past its length.
          const outside = [
            ...(parameter.schema.pattern ? ["x!"] : []),
            ...(parameter.schema.maxLength ? ["a".repeat(parameter.schema.maxLength + 1)] : []),
          ];
          for (const value of outside) {
            const path = fill(template.replace(`{${parameter.name}}`, encodeURIComponent(value)));
            const answer = await call("GET", template, path);
            if (answer.status !== 400 || answer.body.parameter !== parameter.name) {
              drift.push(`${template} ${parameter.name}=${value.slice(0, 20)} answered ${answer.status}`);
            }
          }
          continue;
        }
        if (parameter.in !== "query") continue;
        const { inside, outside } = probes(parameter.schema);
        for (const value of inside) {
          const answer = await call(
            "GET",
            template,
            `${fill(template)}?${parameter.name}=${encodeURIComponent(value)}`,
          );
          if (answer.status === 400)
            drift.push(`${template} ${parameter.name}=${value} refused: ${answer.body.detail}`);
        }
        for (const value of outside) {
          const answer = await call(
            "GET",
            template,
            `${fill(template)}?${parameter.name}=${encodeURIComponent(value)}`,
          );
          if (answer.status !== 400 || !JSON.stringify(answer.body).includes(parameter.name)) {
            drift.push(`${template} ${parameter.name}=${value.slice(0, 20)} answered ${answer.status}`);
          }
        }
      }
    }
    expect(drift).toEqual([]);
  });
});

describe("WebSocket frames validate against the AsyncAPI document", () => {
  const frame = (name: string) =>
    validator(asyncApi.components.messages[name].payload, asyncApi.components) as (v: unknown) => boolean;

  it("ack, pong, error, message and events frames", async () => {
    const client = await bus.connect();
    const pong = await client.request({ action: "ping", id: "p" });
    expect(frame("pongFrame")(pong)).toBe(true);
    const subscribe = { action: "subscribe", id: "s", topic: "stream:contract-ws" };
    expect(frame("subscribe")(subscribe)).toBe(true);
    const ack = await client.request(subscribe);
    expect(frame("ackFrame")(ack)).toBe(true);
    expect(ack.head).toEqual(expect.any(Number));
    const error = await client.request({ action: "subscribe", id: "e", topic: "" });
    expect(error.type).toBe("error");
    expect(frame("errorFrame")(error)).toBe(true);

    await call("POST", "/streams/{streamId}/events", "/streams/contract-ws/events", {
      body: { type: "W", data: 1 },
    });
    const events = await client.next((f) => f.type === "events", 10_000);
    expect(frame("eventsFrame")(events)).toBe(true);
    client.close();
  });
});
