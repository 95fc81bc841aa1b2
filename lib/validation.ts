import type { z } from "zod";
import { validationFailed } from "./errors.ts";
import { printable } from "./text/storableText.ts";

type Issue = z.core.$ZodIssue;

/** RFC 6901 pointer of a zod issue path. */
const pointerOf = (path: readonly PropertyKey[]): string =>
  `/${path.map((segment) => String(segment).replaceAll("~", "~0").replaceAll("/", "~1")).join("/")}`;

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const segment of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "number") return Number.isInteger(value) ? "an integer" : "a fraction";
  return `a ${typeof value}`;
}

const expectedNames: Record<string, string> = {
  int: "an integer",
  number: "a number",
  string: "a string",
  boolean: "a boolean",
  object: "an object",
  record: "an object",
  array: "an array",
  null: "null",
};

const quote = (value: unknown): string =>
  typeof value === "string" ? JSON.stringify(printable(value)) : String(value);

function bound(issue: Extract<Issue, { code: "too_small" | "too_big" }>): string {
  const limit = "minimum" in issue ? issue.minimum : issue.maximum;
  const small = issue.code === "too_small";
  switch (issue.origin) {
    case "string":
      return `must have ${small ? "at least" : "at most"} ${limit} characters`;
    case "array":
    case "set":
      return `must have ${small ? "at least" : "at most"} ${limit} items`;
    default:
      return `must be ${small ? (issue.inclusive ? ">=" : ">") : issue.inclusive ? "<=" : "<"} ${limit}`;
  }
}

/** What one alternative of a union wanted, for "must be X or Y". */
function expectation(issue: Issue): string {
  if (issue.code === "invalid_value") return issue.values.map(quote).join(" or ");
  if (issue.code === "invalid_type") return expectedNames[issue.expected] ?? issue.expected;
  return describeIssue(issue, undefined).replace(/^must be /, "");
}

/**
 * The rule an issue states, phrased to follow a JSON pointer ("must be an integer (got a fraction)"), so
 * that every 400 says which field broke which rule rather than zod's generic "Invalid input".
 */
function describeIssue(issue: Issue, root: unknown): string {
  switch (issue.code) {
    case "invalid_type": {
      const value = valueAt(root, issue.path);
      if (issue.expected === "never") return "is not allowed";
      const expected = expectedNames[issue.expected] ?? issue.expected;
      if (value === undefined && root !== undefined) return `is required (${expected})`;
      return `must be ${expected} (got ${kindOf(value)})`;
    }
    case "unrecognized_keys":
      return `has unknown member${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map(quote).join(", ")}`;
    case "too_small":
    case "too_big":
      return bound(issue);
    case "invalid_value":
      return issue.values.length === 1
        ? `must be ${quote(issue.values[0])}`
        : `must be one of ${issue.values.map(quote).join(", ")}`;
    case "invalid_union": {
      // A schema may say what its union accepts; zod's own message for it is the generic one.
      const alternatives = issue.errors.map((errors) => (errors[0] ? expectation(errors[0]) : ""));
      const rule =
        issue.message !== "Invalid input"
          ? issue.message
          : `must be ${[...new Set(alternatives.filter(Boolean))].join(" or ") || "something else"}`;
      return rule;
    }
    case "invalid_format":
      if (issue.format === "regex" && "pattern" in issue) return `must match ${issue.pattern}`;
      return `must be a valid ${issue.format}`;
    case "not_multiple_of":
      return `must be a multiple of ${issue.divisor}`;
    default:
      return issue.message;
  }
}

/**
 * Parses `value` with a zod schema, turning failures into one `VALIDATION_FAILED` error that lists every
 * problem with a JSON pointer and the rule it breaks, e.g. `{pointer: "/0/type", message: "is required
 * (a string)"}`. The detail names the first one: `Invalid event: /0/type is required (a string).`
 */
export function parseWith<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = result.error.issues.map((issue) => {
    const rule = describeIssue(issue, value);
    // A missing member fails as "not one of the values" or "not any alternative": say it is missing.
    const missing = value !== undefined && issue.path.length > 0 && valueAt(value, issue.path) === undefined;
    return {
      pointer: pointerOf(issue.path),
      message: missing && rule.startsWith("must ") ? `is required and ${rule}` : rule,
    };
  });
  const first = errors[0]!;
  const subject = first.pointer === "/" ? "the value" : first.pointer;
  throw validationFailed(`${what}: ${subject} ${first.message}.`, { errors });
}
