import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { bundleLambdaHandlers } from "../../infra/bundleHandlers.ts";

type Handler = (
  event: unknown,
) => Promise<{ statusCode: number; headers: Record<string, string>; body: string }>;

const request = (path: string, file?: string) => ({
  version: "2.0",
  routeKey: file === undefined ? "GET /console" : "GET /console/{file+}",
  rawPath: path,
  rawQueryString: "",
  headers: {},
  ...(file === undefined ? {} : { pathParameters: { file } }),
  requestContext: { http: { method: "GET", path } },
  isBase64Encoded: false,
});

async function checkConsole(handler: Handler) {
  const page = await handler(request("/console"));
  expect(page.statusCode).toBe(200);
  expect(page.headers["content-type"]).toMatch(/^text\/html/);
  expect(page.body).toMatch(/<html/i);
  const script = await handler(request("/console/app.js", "app.js"));
  expect(script.headers["content-type"]).toMatch(/^text\/javascript/);
  expect(script.body.length).toBeGreaterThan(10_000);
  const settings = await handler(request("/console/config.json", "config.json"));
  expect(JSON.parse(settings.body)).toEqual({
    webSocketUrl: "wss://abc123.execute-api.eu-west-1.amazonaws.com/live",
  });
  expect((await handler(request("/console/nope.js", "nope.js"))).statusCode).toBe(404);
}

describe("the console on AWS (GET /console behind the HTTP API)", () => {
  process.env.EVENTBUS_WS_MANAGEMENT_ENDPOINT = "https://abc123.execute-api.eu-west-1.amazonaws.com/live";

  it("serves the page, script, styles and the WebSocket URL from the handler's sources", async () => {
    const { handler } = await import("../../functions/http/console.ts");
    await checkConsole(handler as unknown as Handler);
  });

  it("serves them from the Lambda bundle, where they are compiled in (no esbuild, no sources)", async () => {
    const outdir = mkdtempSync(join(tmpdir(), "eventbus-console-bundle-"));
    bundleLambdaHandlers(outdir, ["functions/http/console.ts"]);
    const bundled = await import(pathToFileURL(join(outdir, "functions/http/console.mjs")).href);
    await checkConsole(bundled.handler as Handler);
  }, 60_000);
});
