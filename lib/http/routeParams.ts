import { z } from "zod";
import { isEventBusError, validationFailed } from "../errors.ts";
import type { HttpRequest } from "./httpHandler.ts";

/**
 * The path and query parameters of one route, as zod schemas of their values: the handler validates with
 * them (`parseRouteParams`) and the OpenAPI document describes them from them (`lib/apiDocs/openApi.ts`),
 * so the two cannot drift apart. Each schema's error message is the rule a 400 states after the parameter's
 * name ("must be an integer between 1 and 1000"); `describe()` is the document's description.
 */
export interface RouteParams<
  P extends z.ZodRawShape = z.ZodRawShape,
  Q extends z.ZodRawShape = z.ZodRawShape,
> {
  path: z.ZodObject<P>;
  query: z.ZodObject<Q>;
}

/** No parameters in this part (path or query). */
type NoParams = Record<string, never>;

/** Declares a route's parameters; either part may be left out. */
export function routeParams<P extends z.ZodRawShape = NoParams, Q extends z.ZodRawShape = NoParams>(params: {
  path?: P;
  query?: Q;
}): RouteParams<P, Q> {
  return {
    path: z.object(params.path ?? ({} as P)),
    query: z.object(params.query ?? ({} as Q)),
  };
}

/** Integer text exactly as clients have always sent it: optional minus and digits, nothing else. */
const integerText = (value: unknown): unknown =>
  typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;

/**
 * An integer parameter within bounds. Its text is read as an integer only when it is one (`1.5`, `1e3`,
 * ` 2` and the empty string are refused, not coerced); beyond 2^53 it is refused as out of range.
 */
export function integerParam(bounds: { min: number; max?: number }) {
  const rule =
    bounds.max === undefined
      ? `must be an integer >= ${bounds.min}`
      : `must be an integer between ${bounds.min} and ${bounds.max}`;
  const int = z.int({ error: rule }).min(bounds.min, { error: rule });
  return z.preprocess(integerText, bounds.max === undefined ? int : int.max(bounds.max, { error: rule }));
}

/** A text parameter of `min`-`max` characters (UTF-16 code units, as JavaScript counts them). */
export function textParam(min: number, max: number) {
  const rule = `must be ${min}-${max} characters`;
  return z.string({ error: rule }).min(min, { error: rule }).max(max, { error: rule });
}

/** One of a few words. */
export function enumParam<const T extends readonly [string, ...string[]]>(values: T) {
  const rule = `must be ${values.slice(0, -1).join(", ")}${values.length > 1 ? " or " : ""}${values.at(-1)}`;
  return z.enum(values, { error: rule });
}

/**
 * A text parameter the domain parses (an event pattern as JSON, say): its own `EventBusError` is what the
 * client gets, unchanged, but only when no parameter before it was refused, as when handlers parsed in turn.
 */
export function parsedTextParam<T>(parse: (text: string) => T) {
  return z.string().transform((text, ctx): T => {
    try {
      return parse(text);
    } catch (error) {
      if (!isEventBusError(error)) throw error;
      ctx.addIssue({ code: "custom", message: error.message, input: text, params: { cause: error } });
      return z.NEVER;
    }
  });
}

/** The schema under `optional()` / `default()`, to tell a repeatable (array) parameter from a single one. */
function unwrap(schema: z.ZodType): z.ZodType {
  let inner = schema;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault) {
    inner = inner.def.innerType as z.ZodType;
  }
  return inner;
}

/**
 * The value a parameter takes when absent (`default()`), for the document: zod's JSON Schema leaves it out
 * when the value is decoded from text first (integers).
 */
export function defaultOf(schema: z.ZodType): { value: unknown } | undefined {
  let inner = schema;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault) {
    if (inner instanceof z.ZodDefault) return { value: inner.def.defaultValue };
    inner = inner.def.innerType as z.ZodType;
  }
  return undefined;
}

/** `true` when the query parameter may be repeated (`?type=A&type=B`): its schema is an array. */
export const isRepeatable = (schema: z.ZodType): boolean => unwrap(schema) instanceof z.ZodArray;

function check<T extends z.ZodObject>(schema: T, raw: Record<string, unknown>, kind: "Path" | "Query") {
  const result = schema.safeParse(raw);
  if (result.success) return result.data as z.output<T>;
  const issue = result.error.issues[0]!;
  const cause = issue.code === "custom" ? issue.params?.cause : undefined;
  if (isEventBusError(cause)) throw cause;
  const parameter = String(issue.path[0] ?? "");
  // The schemas' own messages state the rule; a zod default ("Invalid input") never reaches a client alone.
  const rule = issue.message.startsWith("Invalid") ? "is not valid" : issue.message;
  // A path's refused value is echoed under its own name too (`streamId`, `name`), as the domain's checks do.
  const echo = kind === "Path" ? { [parameter]: raw[parameter] } : {};
  throw validationFailed(`${kind} parameter '${parameter}' ${rule}.`, { parameter, ...echo });
}

/**
 * Reads and validates a route's path parameters (percent-decoded, storable text, as `HttpRequest.path`).
 *
 * @throws {EventBusError} `VALIDATION_FAILED` with `parameter` and a detail naming it and its rule, e.g.
 * `Path parameter 'streamId' must be 1-200 characters of ...`.
 */
export function parsePathParams<P extends z.ZodRawShape>(
  request: Pick<HttpRequest, "path">,
  params: RouteParams<P, z.ZodRawShape>,
): z.output<z.ZodObject<P>> {
  const raw: Record<string, unknown> = {};
  for (const name of Object.keys(params.path.shape)) raw[name] = request.path(name);
  return check(params.path, raw, "Path");
}

/**
 * Reads and validates a route's query parameters. Values are read as `HttpRequest` reads them
 * (percent-decoded, storable text, from `rawQueryString`): a single-valued parameter given twice is
 * refused, a repeatable one (an array schema) collects every value in order, absent means `undefined`.
 * Separate from the path so that a handler can check access to the path's resource first, as it always has.
 *
 * @throws {EventBusError} `VALIDATION_FAILED` with `parameter` and a detail naming it and its rule, e.g.
 * `Query parameter 'limit' must be an integer between 1 and 1000.`
 */
export function parseQueryParams<Q extends z.ZodRawShape>(
  request: Pick<HttpRequest, "query" | "queryAll">,
  params: RouteParams<z.ZodRawShape, Q>,
): z.output<z.ZodObject<Q>> {
  const raw: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(params.query.shape)) {
    if (isRepeatable(schema as z.ZodType)) {
      const values = request.queryAll(name);
      if (values.length > 0) raw[name] = values;
    } else {
      const value = request.query(name);
      if (value !== undefined) raw[name] = value;
    }
  }
  return check(params.query, raw, "Query");
}
