import { validationFailed } from "../errors.ts";
import { findJsonProblem } from "../text/checkJson.ts";

/**
 * An EventBridge-style event pattern over the CloudEvent JSON that leaves the bus, e.g.
 * `{"type": ["OrderPlaced"], "data": {"total": [{"numeric": [">", 100]}]}}`.
 *
 * Every key must match (AND); a leaf is a non-empty array of matchers of which one must match (OR). A matcher
 * is a literal (string, number, boolean, null: equality) or one of `{prefix}`, `{suffix}`,
 * `{"equals-ignore-case"}`, `{"anything-but": literal | literal[] | {prefix}}`, `{exists: boolean}`,
 * `{numeric: [op, n, (op, n)]}`. As in EventBridge, when the event holds an array the leaf matches if any
 * element does, and only `exists: false` matches a missing field.
 */
export type EventPattern = { [key: string]: EventPattern | Matcher[] };

type Literal = string | number | boolean | null;
export type Matcher =
  | Literal
  | { prefix: string }
  | { suffix: string }
  | { "equals-ignore-case": string }
  | { "anything-but": Literal | Literal[] | { prefix: string } }
  | { exists: boolean }
  | { numeric: Array<string | number> };

const numericOps = new Set(["=", "<", "<=", ">", ">="]);
const MAX_PATTERN_BYTES = 4096;
/** Nesting of pattern objects; the JSON around a leaf (matcher list, operator, its argument) adds 3. */
export const MAX_PATTERN_DEPTH = 10;
const MAX_DEPTH = MAX_PATTERN_DEPTH;

/**
 * Top-level CloudEvent attributes that are bigint columns: the listener narrows on them in SQL, where a
 * fraction or a number beyond 2^53 would fail the bind on every poll. Safe integers always bind, and
 * events never carry anything else there.
 */
const INTEGER_FIELDS = new Set(["position", "streamversion"]);
const INTEGER_RULE = `must be an integer between ${Number.MIN_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}`;

const isLiteral = (value: unknown): value is Literal =>
  value === null || ["string", "number", "boolean"].includes(typeof value);

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function fail(pointer: string, message: string): never {
  throw validationFailed(`Invalid filter: ${pointer} ${message}`, { errors: [{ pointer, message }] });
}

function validateMatcher(matcher: unknown, pointer: string, integerField: string | undefined): void {
  if (integerField && typeof matcher === "number" && !Number.isSafeInteger(matcher)) {
    fail(pointer, `${INTEGER_RULE} (${integerField} is an integer field).`);
  }
  if (isLiteral(matcher)) return;
  if (!isPlainObject(matcher)) fail(pointer, "must be a value or an operator object.");
  const keys = Object.keys(matcher);
  if (keys.length !== 1) fail(pointer, "an operator object must have exactly one key.");
  const [op] = keys as [string];
  const arg = matcher[op];
  switch (op) {
    case "prefix":
    case "suffix":
    case "equals-ignore-case":
      if (typeof arg !== "string") fail(`${pointer}/${op}`, "must be a string.");
      return;
    case "exists":
      if (typeof arg !== "boolean") fail(`${pointer}/exists`, "must be true or false.");
      return;
    case "anything-but":
      if (isLiteral(arg)) return;
      if (Array.isArray(arg) && arg.length > 0 && arg.every(isLiteral)) return;
      if (isPlainObject(arg) && Object.keys(arg).length === 1 && typeof arg.prefix === "string") return;
      fail(`${pointer}/anything-but`, "must be a value, a non-empty array of values, or {prefix}.");
      return;
    case "numeric": {
      const ok =
        Array.isArray(arg) &&
        (arg.length === 2 || arg.length === 4) &&
        arg.every((x, i) => (i % 2 === 0 ? numericOps.has(x as string) : Number.isFinite(x)));
      if (!ok)
        fail(
          `${pointer}/numeric`,
          "must be [op, number] or [op, number, op, number], op one of = < <= > >=.",
        );
      if (integerField) {
        const spec = arg as Array<string | number>;
        for (let i = 1; i < spec.length; i += 2) {
          if (!Number.isSafeInteger(spec[i])) {
            fail(`${pointer}/numeric/${i}`, `${INTEGER_RULE} (${integerField} is an integer field).`);
          }
        }
      }
      return;
    }
    default:
      fail(pointer, `uses the unknown operator '${op}'.`);
  }
}

function validateNode(node: unknown, pointer: string, depth: number): void {
  if (depth > MAX_DEPTH) fail(pointer, `nests deeper than ${MAX_DEPTH} levels.`);
  if (!isPlainObject(node)) fail(pointer || "/", "must be an object.");
  const keys = Object.keys(node);
  if (keys.length === 0) fail(pointer || "/", "must not be empty.");
  for (const key of keys) {
    const child = node[key];
    const childPointer = `${pointer}/${key}`;
    if (Array.isArray(child)) {
      if (child.length === 0) fail(childPointer, "must list at least one value.");
      const integerField = depth === 0 && INTEGER_FIELDS.has(key) ? key : undefined;
      for (const [i, m] of child.entries()) validateMatcher(m, `${childPointer}/${i}`, integerField);
    } else {
      validateNode(child, childPointer, depth + 1);
    }
  }
}

/**
 * Checks that `value` is a well-formed pattern that the listener can always evaluate: known operators with
 * arguments of the right type, integers within the safe range on integer attributes (`position`,
 * `streamversion`), strings Postgres can compare against (no NUL, no lone surrogates), at most
 * {@link MAX_PATTERN_DEPTH} levels and 4096 bytes of JSON.
 * @throws {EventBusError} `VALIDATION_FAILED` naming the offending place with a JSON pointer.
 */
export function validateEventPattern(value: unknown): EventPattern {
  // Iterative, so a filter nested thousands deep is refused before anything recurses into it.
  const problem = findJsonProblem(value, { pointer: "", maxDepth: MAX_DEPTH + 3 });
  if (problem) fail(problem.pointer || "/", `${problem.message}.`);
  validateNode(value, "", 0);
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > MAX_PATTERN_BYTES) {
    throw validationFailed(
      `Invalid filter: patterns are limited to ${MAX_PATTERN_BYTES} bytes of JSON (this one has ${bytes}).`,
      { errors: [{ pointer: "/", message: `must be at most ${MAX_PATTERN_BYTES} bytes of JSON` }] },
    );
  }
  return value as EventPattern;
}

function numericMatches(spec: Array<string | number>, value: number): boolean {
  for (let i = 0; i < spec.length; i += 2) {
    const op = spec[i] as string;
    const n = spec[i + 1] as number;
    const ok =
      op === "="
        ? value === n
        : op === "<"
          ? value < n
          : op === "<="
            ? value <= n
            : op === ">"
              ? value > n
              : value >= n;
    if (!ok) return false;
  }
  return true;
}

/** One matcher against one present, non-array value. */
function matchesValue(matcher: Matcher, value: unknown): boolean {
  if (isLiteral(matcher)) return value === matcher;
  if ("prefix" in matcher) return typeof value === "string" && value.startsWith(matcher.prefix);
  if ("suffix" in matcher) return typeof value === "string" && value.endsWith(matcher.suffix);
  if ("equals-ignore-case" in matcher) {
    return typeof value === "string" && value.toLowerCase() === matcher["equals-ignore-case"].toLowerCase();
  }
  if ("numeric" in matcher) return typeof value === "number" && numericMatches(matcher.numeric, value);
  if ("anything-but" in matcher) {
    const arg = matcher["anything-but"];
    if (isPlainObject(arg)) return !(typeof value === "string" && value.startsWith(arg.prefix as string));
    return !(Array.isArray(arg) ? arg : [arg]).includes(value as Literal);
  }
  return false;
}

function matchesLeaf(matchers: Matcher[], value: unknown): boolean {
  return matchers.some((matcher) => {
    if (isPlainObject(matcher) && "exists" in matcher) {
      // EventBridge: exists applies to leaves; an object is not a leaf value.
      const present = value !== undefined && !isPlainObject(value);
      return matcher.exists === present;
    }
    if (value === undefined) return false;
    if (Array.isArray(value)) return value.some((v) => matchesValue(matcher, v));
    return matchesValue(matcher, value);
  });
}

/**
 * Whether a CloudEvent (or any JSON object) matches the pattern.
 *
 * @example
 * ```ts
 * matchesEventPattern({ type: [{ prefix: "Order" }] }, { type: "OrderPlaced" }); // true
 * ```
 */
export function matchesEventPattern(pattern: EventPattern, event: unknown): boolean {
  for (const [key, child] of Object.entries(pattern)) {
    const value = isPlainObject(event) ? event[key] : undefined;
    if (Array.isArray(child)) {
      if (!matchesLeaf(child, value)) return false;
    } else if (Array.isArray(value)) {
      if (!value.some((v) => matchesEventPattern(child, v))) return false;
    } else if (!matchesEventPattern(child, value)) {
      return false;
    }
  }
  return true;
}
