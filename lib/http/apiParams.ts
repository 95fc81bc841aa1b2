import { z } from "zod";
import { isConnectionCursor } from "../console/listConnections.ts";
import { limits } from "../limits.ts";
import { parseFilterParameter } from "../patterns/parseFilterParameter.ts";
import {
  captureNameParam,
  connectionIdParam,
  operatorNameParam,
  streamIdParam,
  subscriptionNameParam,
  topicParam,
} from "./pathParams.ts";
import {
  enumParam,
  integerParam,
  parsedTextParam,
  type RouteParams,
  routeParams,
  textParam,
} from "./routeParams.ts";

const readLimit = integerParam({ min: 1, max: limits.maxReadLimit })
  .optional()
  .describe(`Events per page (default ${limits.defaultReadLimit}).`);
const pageLimit = integerParam({ min: 1, max: 1000 }).default(100).describe("Items per page (default 100).");
const repeatableText = (description: string) => z.array(textParam(1, 200)).optional().describe(description);

const EXPECTED_VERSION_RULE = "must be any, no_stream, stream_exists or a version number >= 0";
/** A version is 1-15 digits: no sign, no fraction, nothing beyond what a stream can reach. */
const versionText = (value: unknown): unknown =>
  typeof value === "string" && /^\d{1,15}$/.test(value) ? Number(value) : value;

const subscription = { name: subscriptionNameParam };
const capture = { name: captureNameParam };
const operator = { name: operatorNameParam };
const stream = { streamId: streamIdParam };

/**
 * Every route's path and query parameters, by API Gateway route key: what the handlers validate with
 * (`parsePathParams`, `parseQueryParams`) and what the OpenAPI document lists. A route that is not here
 * takes no parameters (or, like the console's files, documents its greedy path on its own).
 */
export const apiParams = {
  "POST /streams/{streamId}/events": routeParams({
    path: stream,
    query: {
      expectedVersion: z
        .union(
          [
            enumParam(["any", "no_stream", "stream_exists"]),
            z.preprocess(versionText, z.int().min(0).max(999_999_999_999_999)),
          ],
          { error: EXPECTED_VERSION_RULE },
        )
        .default("any")
        .describe(
          "Optimistic concurrency: `any` (default), `no_stream`, `stream_exists` or the stream's current version.",
        ),
    },
  }),
  "GET /streams/{streamId}/events": routeParams({
    path: stream,
    query: {
      from: integerParam({ min: 0 })
        .optional()
        .describe("First version to read (default: the first, or the last backward)."),
      limit: readLimit,
      direction: enumParam(["forward", "backward"]).default("forward").describe("Reading direction."),
    },
  }),
  "GET /streams/{streamId}": routeParams({ path: stream }),
  "GET /events": routeParams({
    query: {
      after: integerParam({ min: 0 })
        .optional()
        .describe("Read events after this position (default: the start)."),
      limit: readLimit,
      type: repeatableText("Only these event types (repeat the parameter for any of several)."),
      category: repeatableText(
        "Only streams of these categories (the stream id before its first `-`; repeat for any of several).",
      ),
      filter: parsedTextParam(parseFilterParameter)
        .optional()
        .describe(
          'An EventBridge-style event pattern as URL-encoded JSON, e.g. `{"type":["OrderPlaced"]}`, matched against the CloudEvents returned as a subscription with that filter would match them.',
        ),
    },
  }),
  "POST /topics/{topic}/messages": routeParams({ path: { topic: topicParam } }),
  "GET /topics/{topic}/presence": routeParams({ path: { topic: topicParam } }),
  "POST /connections/{connectionId}/messages": routeParams({ path: { connectionId: connectionIdParam } }),
  "PUT /subscriptions/{name}": routeParams({ path: subscription }),
  "GET /subscriptions/{name}": routeParams({ path: subscription }),
  "DELETE /subscriptions/{name}": routeParams({ path: subscription }),
  "POST /subscriptions/{name}/replay": routeParams({ path: subscription }),
  "POST /subscriptions/{name}/redrive": routeParams({ path: subscription }),
  "GET /streams": routeParams({
    query: {
      prefix: textParam(1, 200).optional().describe("Only ids starting with this."),
      category: textParam(1, 200).optional().describe("Only this category."),
      after: textParam(1, 200).optional().describe("List ids after this one (the previous page's `next`)."),
      limit: pageLimit,
    },
  }),
  "GET /subscriptions/{name}/parked": routeParams({
    path: subscription,
    query: {
      after: integerParam({ min: 0 }).optional().describe("Events after this position."),
      limit: pageLimit,
    },
  }),
  "GET /subscriptions/{name}/dead-letters": routeParams({
    path: subscription,
    query: {
      limit: integerParam({ min: 1, max: 50 }).default(10).describe("At most this many (default 10)."),
    },
  }),
  "GET /realtime/connections": routeParams({
    query: {
      limit: pageLimit,
      cursor: z
        .string()
        .refine(isConnectionCursor, { error: "is not a cursor this route handed out" })
        .optional()
        .describe("The `next` of the previous page."),
    },
  }),
  "PUT /captures/{name}": routeParams({ path: capture }),
  "GET /captures/{name}": routeParams({ path: capture }),
  "DELETE /captures/{name}": routeParams({ path: capture }),
  "GET /operators/{name}": routeParams({ path: operator }),
  "POST /operators/{name}/replay": routeParams({ path: operator }),
} satisfies Record<string, RouteParams>;

/** A route key with declared parameters. */
export type ParamsRouteKey = keyof typeof apiParams;
