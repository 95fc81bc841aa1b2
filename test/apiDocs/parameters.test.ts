import { describe, expect, it } from "vitest";
import { httpRoutes } from "../../functions/http/routes.ts";
import { openApiDocument, parameterObjects } from "../../lib/apiDocs/openApi.ts";
import { requestSchema } from "../../lib/apiDocs/schemas.ts";
import { apiParams } from "../../lib/http/apiParams.ts";
import {
  defaultOf,
  integerParam,
  type RouteParams,
  routeParams,
  textParam,
} from "../../lib/http/routeParams.ts";

const routeKeys = httpRoutes.map((r) => r.routeKey);
const operationOf = (doc: any, routeKey: string) => {
  const [method = "", path = ""] = routeKey.split(" ");
  return doc.paths[path][method.toLowerCase()];
};
const declared = apiParams as Record<string, RouteParams>;

describe("the OpenAPI document's path and query parameters", () => {
  it("are the zod schemas the handlers validate with, for every route that takes any", () => {
    const doc = openApiDocument({ routeKeys }) as any;
    for (const [routeKey, params] of Object.entries(declared)) {
      expect(routeKeys, `${routeKey} is served`).toContain(routeKey);
      const parameters = operationOf(doc, routeKey).parameters;
      const names = [...Object.keys(params.path.shape), ...Object.keys(params.query.shape)];
      expect(
        parameters.map((p: any) => p.name),
        routeKey,
      ).toEqual(names);
      for (const parameter of parameters) {
        const shape = parameter.in === "path" ? params.path.shape : params.query.shape;
        const field = shape[parameter.name] as any;
        const { description: _description, ...schema } = requestSchema(field);
        const fallback = defaultOf(field);
        expect(parameter.schema, `${routeKey} ${parameter.name}`).toEqual(
          fallback ? { default: fallback.value, ...schema } : schema,
        );
      }
    }
  });

  it("every templated path parameter of a served route is declared, so none is described by hand", () => {
    const undeclared = routeKeys
      .filter((key) => key !== "$default" && !key.includes("{file+}"))
      .flatMap((key) =>
        [...key.matchAll(/\{(\w+)\}/g)]
          .map((m) => m[1]!)
          .filter((name) => !(name in (declared[key]?.path.shape ?? {})))
          .map((name) => `${key} ${name}`),
      );
    expect(undeclared).toEqual([]);
  });

  it("change when a schema's bound changes", () => {
    const key = "GET /subscriptions/{name}/dead-letters";
    const original = declared[key]!;
    const before = operationOf(openApiDocument({ routeKeys }), key).parameters;
    expect(before.find((p: any) => p.name === "limit").schema).toMatchObject({
      minimum: 1,
      maximum: 50,
      default: 10,
    });
    declared[key] = routeParams({
      path: original.path.shape,
      query: { limit: integerParam({ min: 2, max: 20 }).optional(), since: textParam(3, 9) },
    });
    try {
      const after = operationOf(openApiDocument({ routeKeys }), key).parameters;
      expect(after.find((p: any) => p.name === "limit")).toMatchObject({
        required: false,
        schema: { type: "integer", minimum: 2, maximum: 20 },
      });
      // A parameter without optional() or default() is a required one.
      expect(after.find((p: any) => p.name === "since")).toMatchObject({
        in: "query",
        required: true,
        schema: { type: "string", minLength: 3, maxLength: 9 },
      });
    } finally {
      declared[key] = original;
    }
    expect(operationOf(openApiDocument({ routeKeys }), key).parameters).toEqual(before);
  });

  it("say which query parameters repeat, which have defaults, and describe each", () => {
    const events = parameterObjects(apiParams["GET /events"]) as any[];
    expect(events.find((p) => p.name === "type")).toMatchObject({
      explode: true,
      schema: { type: "array", items: { type: "string", minLength: 1, maxLength: 200 } },
    });
    expect(events.find((p) => p.name === "filter")).toMatchObject({ schema: { type: "string" } });
    const read = parameterObjects(apiParams["GET /streams/{streamId}/events"]) as any[];
    expect(read.find((p) => p.name === "direction").schema).toEqual({
      type: "string",
      enum: ["forward", "backward"],
      default: "forward",
    });
    for (const parameter of [...events, ...read]) expect(parameter.description, parameter.name).toBeTruthy();
  });
});
