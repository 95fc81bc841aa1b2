import type { LocalRoute } from "../../lib/local/httpAdapter.ts";
import { httpRoutes } from "./routes.ts";

/** Loads every route's handler module, for the local HTTP adapter. */
export async function loadLocalHttpRoutes(): Promise<LocalRoute[]> {
  return Promise.all(
    httpRoutes.map(async (route) => {
      const module = (await import(`../../${route.entry}`)) as { handler: LocalRoute["handler"] };
      return { routeKey: route.routeKey, handler: module.handler };
    }),
  );
}
