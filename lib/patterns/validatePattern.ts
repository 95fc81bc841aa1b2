import { validationFailed } from "../errors.ts";
import { findJsonProblem } from "../text/checkJson.ts";
import { parseCidr } from "./ipAddress.ts";
import { parseWildcard } from "./stringMatchers.ts";

/**
 * An EventBridge event pattern over the CloudEvent JSON that leaves the bus, e.g.
 * `{"type": ["OrderPlaced"], "data": {"total": [{"numeric": [">", 100]}]}}`. Keys are ANDed, the values
 * listed for a field are ORed, `$or` lists alternative sub-patterns. See the README for the whole language.
 */
export type EventPattern = { [key: string]: EventPattern | EventPattern[] | Matcher[] };

type Literal = string | number | boolean | null;
type OneOrMore<T> = T | T[];
type IgnoreCase = { "equals-ignore-case": string };

/** One entry of a field's value list. */
export type Matcher =
  | Literal
  | { prefix: string | IgnoreCase }
  | { suffix: string | IgnoreCase }
  | IgnoreCase
  | { wildcard: string }
  | { numeric: Array<string | number> }
  | { exists: boolean }
  | { cidr: string }
  | {
      "anything-but":
        | OneOrMore<string>
        | OneOrMore<number>
        | { prefix: OneOrMore<string> }
        | { suffix: OneOrMore<string> }
        | { "equals-ignore-case": OneOrMore<string> }
        | { wildcard: OneOrMore<string> };
    };

/** The most bytes of JSON a pattern may have: the `EventPattern` length AWS's PutRule accepts. */
export const MAX_PATTERN_BYTES = 4096;
/** Nesting of pattern objects (a `$or` alternative counts as one level). */
export const MAX_PATTERN_DEPTH = 10;
/**
 * The most alternatives a pattern may expand to once every `$or` is multiplied out. EventBridge refuses
 * patterns whose `$or` combinations explode; this bounds the work per event the same way.
 */
export const MAX_PATTERN_COMBINATIONS = 1000;

/** The `$or` keyword, and the names that may not be field names inside a `$or` alternative (as in AWS). */
export const OR_KEY = "$or";
const RESERVED_IN_OR = new Set([
  "exactly",
  "equals-ignore-case",
  "prefix",
  "suffix",
  "anything-but",
  "exists",
  "wildcard",
  "numeric",
  "cidr",
  "=",
  "<",
  "<=",
  ">",
  ">=",
]);

/**
 * Top-level CloudEvent attributes that hold integers from bigint columns. A fraction or a number beyond
 * 2^53 there can never match an event, so it is refused as a mistake rather than silently matching nothing.
 */
const INTEGER_FIELDS = new Set(["position", "streamversion"]);
const INTEGER_RULE = `must be an integer between ${Number.MIN_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}`;

const isLiteral = (value: unknown): value is Literal =>
  value === null || ["string", "number", "boolean"].includes(typeof value);

export const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const segment = (key: string) => key.replaceAll("~", "~0").replaceAll("/", "~1");

function fail(pointer: string, message: string): never {
  throw validationFailed(`Invalid filter: ${pointer || "/"} ${message}`, {
    errors: [{ pointer: pointer || "/", message }],
  });
}

/** A string, or a non-empty list of strings; `nonEmpty` also refuses "" (AWS: "Null prefix/suffix"). */
function checkStrings(value: unknown, pointer: string, op: string, nonEmpty = false): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) fail(pointer, `anything-but ${op} must list at least one string.`);
  for (const [i, item] of list.entries()) {
    const at = Array.isArray(value) ? `${pointer}/${i}` : pointer;
    if (typeof item !== "string") fail(at, `anything-but ${op} values must be strings.`);
    if (nonEmpty && item === "") fail(at, `anything-but ${op} must not be empty.`);
  }
  return list as string[];
}

function checkPrefixOrSuffix(arg: unknown, pointer: string, op: string): void {
  if (typeof arg === "string") return;
  if (isPlainObject(arg) && Object.keys(arg).length === 1 && "equals-ignore-case" in arg) {
    if (typeof arg["equals-ignore-case"] !== "string") {
      fail(`${pointer}/equals-ignore-case`, `${op} equals-ignore-case must be a string.`);
    }
    return;
  }
  fail(pointer, `${op} must be a string or {"equals-ignore-case": string}.`);
}

function checkNumeric(arg: unknown, pointer: string): void {
  const shape = `numeric must be ["=", n], ["<" or "<=", n], [">" or ">=", n] or [">" or ">=", n, "<" or "<=", m].`;
  if (!Array.isArray(arg) || arg.length === 0) fail(pointer, shape);
  const [op, n, op2, m] = arg as unknown[];
  if (!["=", "<", "<=", ">", ">="].includes(op as string)) {
    fail(`${pointer}/0`, `numeric operator must be one of = < <= > >= (got ${JSON.stringify(op)}).`);
  }
  if (typeof n !== "number") fail(`${pointer}/1`, `numeric value after "${op}" must be a number.`);
  if (arg.length === 2) return;
  if (arg.length !== 4 || (op !== ">" && op !== ">=")) fail(pointer, shape);
  if (op2 !== "<" && op2 !== "<=") fail(`${pointer}/2`, `numeric upper bound operator must be < or <=.`);
  if (typeof m !== "number") fail(`${pointer}/3`, `numeric value after "${op2}" must be a number.`);
  if (!(n < m)) fail(pointer, `numeric lower bound ${n} must be less than the upper bound ${m}.`);
}

function checkAnythingBut(arg: unknown, pointer: string): void {
  if (typeof arg === "string" || typeof arg === "number") return;
  if (Array.isArray(arg)) {
    const allStrings = arg.every((x) => typeof x === "string");
    const allNumbers = arg.every((x) => typeof x === "number");
    if (arg.length === 0 || !(allStrings || allNumbers)) {
      fail(pointer, "anything-but list must hold only strings or only numbers, at least one.");
    }
    return;
  }
  if (isPlainObject(arg) && Object.keys(arg).length === 1) {
    const [op] = Object.keys(arg) as [string];
    const at = `${pointer}/${segment(op)}`;
    switch (op) {
      case "prefix":
      case "suffix":
        checkStrings(arg[op], at, op, true);
        return;
      case "equals-ignore-case":
        checkStrings(arg[op], at, op);
        return;
      case "wildcard":
        for (const [i, text] of checkStrings(arg[op], at, op).entries()) {
          const parsed = parseWildcard(text);
          if (typeof parsed === "string")
            fail(Array.isArray(arg[op]) ? `${at}/${i}` : at, `wildcard ${parsed}.`);
        }
        return;
      default:
        fail(at, `anything-but supports prefix, suffix, equals-ignore-case and wildcard, not '${op}'.`);
    }
  }
  fail(
    pointer,
    "anything-but must be a string, a number, a list of strings or of numbers, or one of {prefix}, {suffix}, {equals-ignore-case}, {wildcard}.",
  );
}

function checkMatcher(matcher: unknown, pointer: string, integerField: string | undefined): void {
  if (integerField && typeof matcher === "number" && !Number.isSafeInteger(matcher)) {
    fail(pointer, `${INTEGER_RULE} (${integerField} is an integer field).`);
  }
  if (isLiteral(matcher)) return;
  if (Array.isArray(matcher))
    fail(pointer, "must be a string, number, true, false, null or an operator object.");
  if (!isPlainObject(matcher)) fail(pointer, "must be a value or an operator object.");
  const keys = Object.keys(matcher);
  if (keys.length !== 1) fail(pointer, `an operator object must have exactly one key (got ${keys.length}).`);
  const [op] = keys as [string];
  const arg = matcher[op];
  const at = `${pointer}/${segment(op)}`;
  switch (op) {
    case "prefix":
    case "suffix":
      checkPrefixOrSuffix(arg, at, op);
      return;
    case "equals-ignore-case":
      if (typeof arg !== "string") fail(at, "equals-ignore-case must be a string.");
      return;
    case "wildcard": {
      if (typeof arg !== "string") fail(at, "wildcard must be a string.");
      const parsed = parseWildcard(arg);
      if (typeof parsed === "string") fail(at, `wildcard ${parsed}.`);
      return;
    }
    case "exists":
      if (typeof arg !== "boolean") fail(at, "exists must be true or false.");
      return;
    case "cidr": {
      if (typeof arg !== "string") fail(at, "cidr must be a string such as 10.0.0.0/24.");
      const parsed = parseCidr(arg);
      if (typeof parsed === "string") fail(at, `cidr ${parsed}.`);
      return;
    }
    case "anything-but":
      checkAnythingBut(arg, at);
      return;
    case "numeric":
      checkNumeric(arg, at);
      if (integerField) {
        for (let i = 1; i < (arg as unknown[]).length; i += 2) {
          if (!Number.isSafeInteger((arg as unknown[])[i])) {
            fail(`${at}/${i}`, `${INTEGER_RULE} (${integerField} is an integer field).`);
          }
        }
      }
      return;
    default:
      fail(pointer, `uses the unknown operator '${op}'.`);
  }
}

/**
 * Checks one pattern object and returns how many alternatives it expands to once `$or` is multiplied out.
 * `path` is the field path from the event's top (`$or` adds nothing to it).
 */
function checkNode(node: unknown, pointer: string, path: string[], depth: number, inOr: boolean): number {
  if (depth > MAX_PATTERN_DEPTH) fail(pointer, `nests deeper than ${MAX_PATTERN_DEPTH} levels.`);
  if (!isPlainObject(node)) fail(pointer, "must be an object.");
  const keys = Object.keys(node);
  if (keys.length === 0) fail(pointer, "must not be empty.");
  let combinations = 1;
  for (const key of keys) {
    const child = node[key];
    const at = `${pointer}/${segment(key)}`;
    if (key === OR_KEY) {
      if (!Array.isArray(child)) fail(at, "$or must be a list of at least two pattern objects.");
      if (child.length < 2) fail(at, "$or must list at least two pattern objects.");
      let sum = 0;
      for (const [i, branch] of child.entries()) {
        if (!isPlainObject(branch)) fail(`${at}/${i}`, "each $or alternative must be a pattern object.");
        sum += checkNode(branch, `${at}/${i}`, path, depth + 1, true);
      }
      combinations *= sum;
    } else {
      if (inOr && RESERVED_IN_OR.has(key)) {
        fail(at, `'${key}' is an operator name and cannot be a field name inside $or.`);
      }
      if (Array.isArray(child)) {
        if (child.length === 0) fail(at, "must list at least one value.");
        const integerField = path.length === 0 && INTEGER_FIELDS.has(key) ? key : undefined;
        for (const [i, m] of child.entries()) checkMatcher(m, `${at}/${i}`, integerField);
      } else if (isPlainObject(child)) {
        combinations *= checkNode(child, at, [...path, key], depth + 1, inOr);
      } else {
        fail(at, "must be a list of values or a nested pattern object.");
      }
    }
    if (combinations > MAX_PATTERN_COMBINATIONS) {
      fail(
        pointer,
        `expands to more than ${MAX_PATTERN_COMBINATIONS} alternatives once every $or is multiplied out; split the subscription or simplify the pattern.`,
      );
    }
  }
  return combinations;
}

/**
 * Checks that `value` is a well-formed EventBridge pattern that the listener can always evaluate: known
 * operators with arguments of the right shape (as AWS checks them), `$or` with at least two alternatives and
 * no operator names as fields inside them, at most {@link MAX_PATTERN_COMBINATIONS} alternatives,
 * {@link MAX_PATTERN_DEPTH} levels and {@link MAX_PATTERN_BYTES} bytes of JSON, strings Postgres can compare
 * (no NUL, no lone surrogates), and integers within the safe range on `position` and `streamversion`.
 * @throws {EventBusError} `VALIDATION_FAILED` naming the JSON pointer and the rule, e.g.
 * `Invalid filter: /data/ip/0/cidr cidr must be an address and a mask length such as 10.0.0.0/24`.
 */
export function validateEventPattern(value: unknown): EventPattern {
  // Iterative, so a filter nested thousands deep is refused before anything recurses into it. A `$or`
  // level is two JSON levels (list and object); a leaf adds three (list, operator, its argument list).
  const problem = findJsonProblem(value, { pointer: "", maxDepth: 2 * MAX_PATTERN_DEPTH + 4 });
  if (problem) fail(problem.pointer, `${problem.message}.`);
  checkNode(value, "", [], 0, false);
  // TextEncoder rather than Buffer: the client bundles the matcher for browsers.
  const bytes = new TextEncoder().encode(JSON.stringify(value)).length;
  if (bytes > MAX_PATTERN_BYTES) {
    throw validationFailed(
      `Invalid filter: patterns are limited to ${MAX_PATTERN_BYTES} bytes of JSON (this one has ${bytes}).`,
      { errors: [{ pointer: "/", message: `must be at most ${MAX_PATTERN_BYTES} bytes of JSON` }] },
    );
  }
  return value as EventPattern;
}
