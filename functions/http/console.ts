import { parseConfig } from "../../lib/config.ts";
import { buildConsoleAssets, type ConsoleAsset, consoleRoutes } from "../../lib/console/serveConsole.ts";
import type { HttpEvent, HttpResult } from "../../lib/http/httpHandler.ts";

/**
 * Set by the Lambda bundle (`infra/bundleHandlers.ts`): the console's page, script and styles compiled in.
 * Unset when this module runs from sources (tests), where the assets are bundled on first request.
 */
declare const __EVENTBUS_CONSOLE_ASSETS__: Record<string, ConsoleAsset> | undefined;

let serve: Promise<(event: HttpEvent) => Promise<HttpResult>> | undefined;

async function load() {
  const assets =
    typeof __EVENTBUS_CONSOLE_ASSETS__ === "undefined"
      ? await buildConsoleAssets()
      : new Map(Object.entries(__EVENTBUS_CONSOLE_ASSETS__));
  // The live tail connects to the WebSocket API: its wss:// URL is the management endpoint's host and stage.
  const management = parseConfig(process.env).EVENTBUS_WS_MANAGEMENT_ENDPOINT;
  const webSocketUrl = management ? management.replace(/^http(s?):/, "ws$1:") : "";
  const [route] = consoleRoutes(assets, { webSocketUrl });
  return route!.handler as unknown as (event: HttpEvent) => Promise<HttpResult>;
}

/**
 * GET /console and GET /console/{file+}: the web console on AWS, served by the HTTP API like every other
 * route (public, as a static site is; every screen calls the API with the token the operator pastes).
 */
export const handler = async (event: HttpEvent): Promise<HttpResult> => {
  serve ??= load();
  return (await serve)(event);
};
