import { Parser } from "@asyncapi/parser";
import { validate } from "@readme/openapi-parser";
import { describe, expect, it } from "vitest";
import { httpRoutes } from "../../functions/http/routes.ts";
import { wsRoutes } from "../../functions/ws/routes.ts";
import { asyncApiDocument } from "../../lib/apiDocs/asyncApi.ts";
import { openApiDocument } from "../../lib/apiDocs/openApi.ts";

const routeKeys = httpRoutes.map((r) => r.routeKey);

describe("the OpenAPI document", () => {
  it("is valid OpenAPI 3.1 for the official parser", async () => {
    const result = await validate(structuredClone(openApiDocument({ routeKeys })) as any);
    expect(result.valid ? [] : result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
  });

  it("is checked by a parser that does reject a broken document", async () => {
    const broken = structuredClone(openApiDocument({ routeKeys })) as any;
    broken.paths["/streams/{streamId}"].get.responses["200"] = { content: {} };
    expect((await validate(broken)).valid).toBe(false);
  });

  it("lists every route the HTTP API serves, and nothing else", () => {
    const doc = openApiDocument({ routeKeys }) as any;
    const listed = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops as object).map((method) => `${method.toUpperCase()} ${path}`),
    );
    // API Gateway's greedy `{file+}` appears as `{file}`: OpenAPI has no multi-segment parameter.
    const served = routeKeys.filter((k) => k !== "$default").map((k) => k.replace(/\{(\w+)\+\}/g, "{$1}"));
    expect(listed.sort()).toEqual(served.sort());
  });

  it("describes request bodies with the rules the routes enforce (from their zod schemas)", () => {
    const doc = openApiDocument({ routeKeys }) as any;
    const definition = doc.components.schemas.SubscriptionDefinition;
    expect(definition.additionalProperties).toBe(false);
    expect(definition.properties.maxReceiveCount).toMatchObject({
      type: "integer",
      minimum: 1,
      maximum: 1000,
    });
    expect(definition.properties.ordering.enum).toEqual(["none", "stream"]);
    expect(doc.components.schemas.JsonEvent.required).toEqual(["type"]);
  });
});

describe("the AsyncAPI document", () => {
  it("is valid AsyncAPI 3 for the official parser, with no errors or warnings", async () => {
    const diagnostics = await new Parser().validate(JSON.stringify(asyncApiDocument()));
    const problems = diagnostics
      .filter((d) => d.severity <= 1)
      .map((d) => `${d.code} at ${d.path.join(".")}: ${d.message}`);
    expect(problems).toEqual([]);
  });

  it("is checked by a parser that does reject a broken document", async () => {
    const broken = asyncApiDocument() as any;
    broken.operations.sendSubscribe.action = "publish";
    const diagnostics = await new Parser().validate(JSON.stringify(broken));
    expect(diagnostics.filter((d) => d.severity === 0).length).toBeGreaterThan(0);
  });

  it("has a message for every WebSocket action the API routes, and the SQS event", () => {
    const doc = asyncApiDocument() as any;
    const clientActions = Object.values(doc.components.messages)
      .filter((m: any) => m.title.endsWith("(client)"))
      .map((m: any) => m.name);
    const routed = wsRoutes.map((r) => r.routeKey).filter((k) => !k.startsWith("$"));
    expect(clientActions.sort()).toEqual(routed.sort());
    expect(doc.components.messages.subscriptionEvent.payload).toEqual({
      $ref: "#/components/schemas/CloudEvent",
    });
  });
});
