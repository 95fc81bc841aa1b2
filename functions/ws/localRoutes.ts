import type { LocalWsRoute } from "../../lib/local/wsGateway.ts";
import { wsRoutes } from "./routes.ts";

/** Loads every WebSocket route's handler module, for the local gateway. */
export async function loadLocalWsRoutes(): Promise<LocalWsRoute[]> {
  return Promise.all(
    wsRoutes.map(async (route) => {
      const module = (await import(`../../${route.entry}`)) as { handler: LocalWsRoute["handler"] };
      return { routeKey: route.routeKey, handler: module.handler };
    }),
  );
}
