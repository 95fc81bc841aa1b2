import { validationFailed } from "../errors.ts";
import { printable, unstorableTextRule } from "./storableText.ts";

/** Deepest nesting of objects and arrays accepted in event `data` and `metadata`. */
export const MAX_EVENT_JSON_DEPTH = 64;

/**
 * Deepest nesting accepted in any JSON request body before it is even looked at: event data at its
 * limit plus the envelope around it (batch array, event object), with room to spare so that the precise
 * per-field check, not this one, is what a client near the limit sees.
 */
export const MAX_BODY_JSON_DEPTH = 128;

const NOT_FINITE = "must be a finite number";

export interface JsonProblem {
  /** RFC 6901 JSON pointer to the offending value or key. */
  pointer: string;
  /** The rule it breaks, phrased to follow the pointer. */
  message: string;
}

const escapeSegment = (segment: string): string =>
  printable(segment.replaceAll("~", "~0").replaceAll("/", "~1"), 40);

/**
 * Finds the first place in a parsed JSON value that Postgres could not store or that nests deeper than
 * `maxDepth` (the value itself, if an object or array, is depth 1): NUL or lone surrogates in a string or a
 * key, numbers that JSON cannot carry (`Infinity`, `NaN`), or nesting beyond the limit.
 *
 * The walk is iterative, so a hostile value nested thousands deep costs a loop, not the call stack.
 *
 * @param pointer JSON pointer of `value` itself, prefixed to every reported pointer (e.g. `/0/data`).
 * @example
 * ```ts
 * findJsonProblem({ name: "a\u0000" }, { pointer: "/0/data", maxDepth: 64 });
 * // { pointer: "/0/data/name", message: "must not contain U+0000 (NUL, at index 1)" }
 * ```
 */
export function findJsonProblem(
  value: unknown,
  options: { pointer: string; maxDepth: number },
): JsonProblem | undefined {
  const stack: Array<{ value: unknown; pointer: string; depth: number }> = [
    { value, pointer: options.pointer, depth: 0 },
  ];
  while (stack.length > 0) {
    const item = stack.pop()!;
    const v = item.value;
    if (typeof v === "string") {
      const rule = unstorableTextRule(v);
      if (rule) return { pointer: item.pointer, message: rule };
    } else if (typeof v === "number") {
      if (!Number.isFinite(v)) return { pointer: item.pointer, message: NOT_FINITE };
    } else if (v !== null && typeof v === "object") {
      const depth = item.depth + 1;
      if (depth > options.maxDepth) {
        return {
          pointer: item.pointer,
          message: `nests deeper than the limit of ${options.maxDepth} levels of objects and arrays`,
        };
      }
      const entries: Array<[string, unknown]> = Array.isArray(v)
        ? v.map((element, i) => [String(i), element])
        : Object.entries(v);
      // Pushed in reverse so that problems are reported in document order.
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i]!;
        const pointer = `${item.pointer}/${escapeSegment(key)}`;
        if (!Array.isArray(v)) {
          const rule = unstorableTextRule(key);
          if (rule) return { pointer, message: `has a member name that ${rule}` };
        }
        stack.push({ value: child, pointer, depth });
      }
    }
  }
  return undefined;
}

/**
 * Throws `VALIDATION_FAILED` naming the pointer and the rule when {@link findJsonProblem} finds one.
 * @throws {EventBusError} `VALIDATION_FAILED` with `errors: [{pointer, message}]`.
 */
export function assertStorableJson(
  value: unknown,
  options: { pointer: string; maxDepth: number; what: string },
): void {
  const problem = findJsonProblem(value, options);
  if (problem) {
    throw validationFailed(`${options.what}: ${problem.pointer} ${problem.message}.`, {
      pointer: problem.pointer,
      errors: [problem],
    });
  }
}

/**
 * The nesting depth of JSON text, counted without parsing it, stopping as soon as it passes `limit`.
 * Lets a handler refuse a body nested thousands deep before any recursive code (JSON.stringify, a
 * schema, a driver) can overflow the stack on it.
 */
export function jsonTextDepthExceeds(text: string, limit: number): boolean {
  // Nesting deeper than the limit needs more opening brackets than the limit: counting them with indexOf
  // (native) spares most texts the walk below, one JavaScript step per character.
  if (openingBracketsAtMost(text, limit)) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

/**
 * Parses a JSON request body, refusing nesting deeper than {@link MAX_BODY_JSON_DEPTH} first.
 * @throws {EventBusError} `VALIDATION_FAILED` for invalid JSON or excessive nesting.
 */
export function parseJsonBody(text: string): unknown {
  if (jsonTextDepthExceeds(text, MAX_BODY_JSON_DEPTH)) {
    throw validationFailed(
      `The request body nests deeper than the limit of ${MAX_BODY_JSON_DEPTH} levels of objects and arrays.`,
      { maxDepth: MAX_BODY_JSON_DEPTH },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw validationFailed("The request body is not valid JSON.");
  }
  // A number too large for a double parses as Infinity, which JSON.stringify would silently store as null.
  if (MAYBE_NOT_FINITE.test(text)) {
    const problem = findJsonProblem(value, { pointer: "", maxDepth: MAX_BODY_JSON_DEPTH });
    if (problem?.message === NOT_FINITE) {
      throw validationFailed(`Invalid request body: ${problem.pointer} ${problem.message}.`, {
        pointer: problem.pointer,
        errors: [problem],
      });
    }
  }
  return value;
}

/** Number literals that may overflow a double: 309 or more digits, or a 3-digit exponent. */
const MAYBE_NOT_FINITE = /\d{309}|\d[eE]\+?\d{3}/;

/** Whether `text` holds at most `limit` `{` and `[` characters, strings included. */
function openingBracketsAtMost(text: string, limit: number): boolean {
  let count = 0;
  for (const bracket of ["{", "["]) {
    for (let at = text.indexOf(bracket); at !== -1; at = text.indexOf(bracket, at + 1)) {
      if (++count > limit) return false;
    }
  }
  return true;
}
