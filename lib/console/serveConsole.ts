import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { BuildOptions } from "esbuild";
import type { HttpLambda, LocalRoute } from "../local/httpAdapter.ts";

/** One static file of the console. */
export interface ConsoleAsset {
  contentType: string;
  body: string;
}

const consoleDir = fileURLToPath(new URL("../../console/", import.meta.url));

const esbuildConsoleOptions: BuildOptions & { write: false } = {
  entryPoints: [`${consoleDir}main.ts`],
  bundle: true,
  write: false,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: false,
  jsx: "automatic",
  jsxImportSource: "preact",
  logLevel: "silent",
};

function assetsOf(script: string, uplotCss: string, html: string, css: string): Map<string, ConsoleAsset> {
  return new Map([
    ["index.html", { contentType: "text/html; charset=utf-8", body: html }],
    ["app.js", { contentType: "text/javascript; charset=utf-8", body: script }],
    ["app.css", { contentType: "text/css; charset=utf-8", body: `${uplotCss}\n${css}` }],
  ]);
}

/**
 * Bundles the web console (`console/main.ts`, Preact + htm + uPlot) with esbuild, in memory, in a few
 * hundred milliseconds, so `npm run dev` serves it with no build step of its own. esbuild is a dev
 * dependency, imported here only.
 */
export async function buildConsoleAssets(): Promise<Map<string, ConsoleAsset>> {
  const esbuild = await import("esbuild");
  const result = await esbuild.build(esbuildConsoleOptions);
  const require = createRequire(import.meta.url);
  return assetsOf(
    result.outputFiles[0]!.text,
    await readFile(require.resolve("uplot/dist/uPlot.min.css"), "utf8"),
    await readFile(`${consoleDir}index.html`, "utf8"),
    await readFile(`${consoleDir}app.css`, "utf8"),
  );
}

/**
 * The same, synchronously, for the Lambda bundle (CDK bundles synchronously): the assets are compiled into
 * the console's function, which then needs neither esbuild nor the console's sources.
 */
export function buildConsoleAssetsSync(): Map<string, ConsoleAsset> {
  const require = createRequire(import.meta.url);
  const esbuild = require("esbuild") as typeof import("esbuild");
  const result = esbuild.buildSync(esbuildConsoleOptions);
  return assetsOf(
    result.outputFiles[0]!.text,
    readFileSync(require.resolve("uplot/dist/uPlot.min.css"), "utf8"),
    readFileSync(`${consoleDir}index.html`, "utf8"),
    readFileSync(`${consoleDir}app.css`, "utf8"),
  );
}

/** What the console needs to know about where it runs, served as `/console/config.json`. */
export interface ConsoleSettings {
  /** The WebSocket API's URL, for the live tail. */
  webSocketUrl: string;
}

/**
 * Routes serving the console under `/console`: the page, its script and styles, and its settings. Public,
 * like any static site: everything it shows comes from the API with the token the operator pastes.
 */
export function consoleRoutes(assets: Map<string, ConsoleAsset>, settings: ConsoleSettings): LocalRoute[] {
  const files = new Map(assets);
  files.set("config.json", { contentType: "application/json", body: JSON.stringify(settings) });
  const serve: HttpLambda = async (event) => {
    const file = event.pathParameters?.file ?? "index.html";
    const asset = files.get(file);
    if (!asset) {
      return {
        statusCode: 404,
        headers: { "content-type": "application/problem+json" },
        body: JSON.stringify({
          type: "urn:eventbus:problem:route-not-found",
          title: "Route not found",
          status: 404,
          detail: "No such console file.",
          code: "ROUTE_NOT_FOUND",
        }),
      };
    }
    return {
      statusCode: 200,
      headers: {
        "content-type": asset.contentType,
        "cache-control": "no-cache",
        "x-content-type-options": "nosniff",
        ...(file === "index.html"
          ? {
              "content-security-policy":
                "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
            }
          : {}),
      },
      body: asset.body,
    };
  };
  return [
    { routeKey: "GET /console", handler: serve },
    { routeKey: "GET /console/{file+}", handler: serve },
  ];
}

/**
 * The console's routes for `npm run dev`, or none (with a log line saying why) when it cannot be bundled,
 * e.g. from an installed package without esbuild or the console's sources: the bus runs without it.
 */
export async function localConsoleRoutes(
  settings: ConsoleSettings,
  log: (message: string) => void,
): Promise<LocalRoute[]> {
  try {
    return consoleRoutes(await buildConsoleAssets(), settings);
  } catch (error) {
    log(`console unavailable: ${(error as Error).message.split("\n")[0]}`);
    return [];
  }
}
