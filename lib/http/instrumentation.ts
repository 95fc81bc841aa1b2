import type { MiddlewareObj } from "@middy/core";

/**
 * What the HTTP handlers add on Lambda: the Powertools tracer and metrics middlewares, and a per-request
 * observation (route, status, duration). The edge (`functions/shared/runtime.ts`) configures it from the
 * environment; locally it stays unset, since `npm run dev` observes requests in its HTTP adapter.
 */
export interface HttpInstrumentation {
  middlewares: MiddlewareObj[];
  observe(routeKey: string, status: number, seconds: number): void;
}

let configured: HttpInstrumentation | undefined;

/** Sets the instrumentation of every HTTP handler created afterwards (call before the handlers load). */
export function instrumentHttpHandlers(instrumentation: HttpInstrumentation | undefined): void {
  configured = instrumentation;
}

/** The instrumentation set by {@link instrumentHttpHandlers}, if any. */
export const httpInstrumentation = (): HttpInstrumentation | undefined => configured;
