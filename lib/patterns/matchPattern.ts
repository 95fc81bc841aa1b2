import { type CidrBlock, inCidr, parseCidr, parseIpAddress, sameIpAddress } from "./ipAddress.ts";
import {
  compileIgnoreCase,
  endsWithIgnoreCase,
  equalsIgnoreCase,
  matchesWildcard,
  parseWildcard,
  startsWithIgnoreCase,
} from "./stringMatchers.ts";
import { type EventPattern, isPlainObject, OR_KEY } from "./validatePattern.ts";

/** A leaf value of an event: what EventBridge compares (objects are not leaves). */
type Leaf = string | number | boolean | null;
type Test = (value: Leaf) => boolean;

/** One entry of a field's list: a test on leaf values, or an existence check. */
type CompiledMatcher = { exists: boolean } | { test: Test };

/** One conjunctive alternative (no `$or` left), as a tree so that array elements stay consistent. */
interface Branch {
  leaves: Array<{ key: string; path: string[]; matchers: CompiledMatcher[] }>;
  children: Array<{ key: string; branch: Branch }>;
}

const never: Test = () => false;

function stringTest(arg: unknown, plain: (s: string, v: string) => boolean, op: "prefix" | "suffix"): Test {
  if (typeof arg === "string") return (v) => typeof v === "string" && plain(v, arg);
  if (isPlainObject(arg) && typeof arg["equals-ignore-case"] === "string") {
    const compiled = compileIgnoreCase(arg["equals-ignore-case"]);
    const check = op === "prefix" ? startsWithIgnoreCase : endsWithIgnoreCase;
    return (v) => typeof v === "string" && check(compiled, v);
  }
  return never;
}

function numericTest(spec: unknown): Test {
  if (!Array.isArray(spec)) return never;
  const bounds: Array<(n: number) => boolean> = [];
  for (let i = 0; i + 1 < spec.length; i += 2) {
    const n = spec[i + 1] as number;
    const op = spec[i];
    bounds.push(
      op === "="
        ? (x) => x === n
        : op === "<"
          ? (x) => x < n
          : op === "<="
            ? (x) => x <= n
            : op === ">"
              ? (x) => x > n
              : op === ">="
                ? (x) => x >= n
                : () => false,
    );
  }
  return (v) => typeof v === "number" && bounds.every((bound) => bound(v));
}

const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

/** `anything-but`: every leaf value that is not excluded matches, whatever its type (as in AWS). */
function anythingButTest(arg: unknown): Test {
  if (isPlainObject(arg)) {
    const [op] = Object.keys(arg);
    const values = list(arg[op!]).filter((x): x is string => typeof x === "string");
    let excluded: (s: string) => boolean;
    if (op === "prefix") excluded = (s) => values.some((p) => s.startsWith(p));
    else if (op === "suffix") excluded = (s) => values.some((p) => s.endsWith(p));
    else if (op === "equals-ignore-case") {
      const compiled = values.map(compileIgnoreCase);
      excluded = (s) => compiled.some((c) => equalsIgnoreCase(c, s));
    } else if (op === "wildcard") {
      const parsed = values.map(parseWildcard).filter((w) => typeof w !== "string");
      excluded = (s) => parsed.some((w) => matchesWildcard(w, s));
    } else return never;
    return (v) => !(typeof v === "string" && excluded(v));
  }
  // Values compare by type and value: 1 and 1.0 are the same number, "1" is not 1.
  const set = new Set(list(arg));
  return (v) => !set.has(v);
}

function literalTest(literal: Leaf): Test {
  if (typeof literal === "string") {
    // AWS compares a literal that is an IP address as an address: "::1" matches "0:0:0:0:0:0:0:1".
    const address = parseIpAddress(literal);
    if (address) {
      return (v) => {
        if (typeof v !== "string") return false;
        const other = parseIpAddress(v);
        return other !== undefined && sameIpAddress(address, other);
      };
    }
  }
  return (v) => v === literal;
}

function compileMatcher(matcher: unknown): CompiledMatcher {
  if (!isPlainObject(matcher)) return { test: literalTest(matcher as Leaf) };
  const [op] = Object.keys(matcher);
  const arg = matcher[op!];
  switch (op) {
    case "exists":
      return { exists: arg === true };
    case "prefix":
      return { test: stringTest(arg, (v, p) => v.startsWith(p), "prefix") };
    case "suffix":
      return { test: stringTest(arg, (v, s) => v.endsWith(s), "suffix") };
    case "equals-ignore-case": {
      if (typeof arg !== "string") return { test: never };
      const compiled = compileIgnoreCase(arg);
      return { test: (v) => typeof v === "string" && equalsIgnoreCase(compiled, v) };
    }
    case "wildcard": {
      const parsed = typeof arg === "string" ? parseWildcard(arg) : "not a string";
      if (typeof parsed === "string") return { test: never };
      return { test: (v) => typeof v === "string" && matchesWildcard(parsed, v) };
    }
    case "numeric":
      return { test: numericTest(arg) };
    case "cidr": {
      const block: CidrBlock | string = typeof arg === "string" ? parseCidr(arg) : "not a string";
      if (typeof block === "string") return { test: never };
      return {
        test: (v) => {
          if (typeof v !== "string") return false;
          const address = parseIpAddress(v);
          return address !== undefined && inCidr(block, address);
        },
      };
    }
    case "anything-but":
      return { test: anythingButTest(arg) };
    default:
      return { test: never };
  }
}

/**
 * Multiplies out every `$or` into conjunctive alternatives, each a map from field path to its value list.
 * Fields are applied in the pattern's key order and a later one replaces an earlier one at the same path,
 * which is how AWS's compiler resolves `{"a": [..], "$or": [{"a": [..]}, ..]}`.
 */
function expand(node: EventPattern, path: string[], rules: Array<Map<string, unknown[]>>) {
  for (const [key, child] of Object.entries(node)) {
    if (key === OR_KEY && Array.isArray(child) && child.every(isPlainObject)) {
      // Each alternative continues every rule built so far; `rules` is replaced in place, as callers hold it.
      const next = (child as EventPattern[]).flatMap((branch) => {
        const copies = rules.map((rule) => new Map(rule));
        expand(branch, path, copies);
        return copies;
      });
      rules.splice(0, rules.length, ...next);
    } else if (Array.isArray(child)) {
      const at = JSON.stringify([...path, key]);
      for (const rule of rules) rule.set(at, child);
    } else if (isPlainObject(child)) {
      expand(child as EventPattern, [...path, key], rules);
    }
  }
}

function toBranch(rule: Map<string, unknown[]>): Branch {
  const root: Branch = { leaves: [], children: [] };
  for (const [at, matchers] of rule) {
    const path = JSON.parse(at) as string[];
    let node = root;
    for (const key of path.slice(0, -1)) {
      let child = node.children.find((c) => c.key === key)?.branch;
      if (!child) {
        child = { leaves: [], children: [] };
        node.children.push({ key, branch: child });
      }
      node = child;
    }
    node.leaves.push({ key: path.at(-1)!, path, matchers: matchers.map(compileMatcher) });
  }
  return root;
}

/** Leaf values of a field: arrays (also nested ones) are flattened, objects are not leaves. */
function leafValues(value: unknown, out: Leaf[] = []): Leaf[] {
  if (Array.isArray(value)) for (const item of value) leafValues(item, out);
  else if (value !== undefined && !isPlainObject(value)) out.push(value as Leaf);
  return out;
}

/** Whether the field path holds a leaf value anywhere in the event, across every array element. */
function hasLeafAnywhere(value: unknown, path: string[], from = 0): boolean {
  if (Array.isArray(value)) return value.some((item) => hasLeafAnywhere(item, path, from));
  if (from === path.length) return value !== undefined && !isPlainObject(value);
  return isPlainObject(value) && hasLeafAnywhere(value[path[from]!], path, from + 1);
}

/** The objects (or other values) a nested pattern is matched against: each array element on its own. */
function elements(value: unknown): unknown[] {
  if (!Array.isArray(value)) return [value];
  const out: unknown[] = [];
  const walk = (v: unknown) => (Array.isArray(v) ? v.forEach(walk) : out.push(v));
  value.forEach(walk);
  return out.length === 0 ? [undefined] : out;
}

/**
 * A branch against one object. Fields under the same array must be satisfied by the same element (AWS's
 * "array-consistent" matching); `exists: false` holds only when the field has no leaf value anywhere in the
 * event, as in AWS.
 */
function matchesBranch(branch: Branch, value: unknown, root: unknown): boolean {
  const object = isPlainObject(value) ? value : undefined;
  for (const leaf of branch.leaves) {
    const values = leafValues(object?.[leaf.key]);
    const ok = leaf.matchers.some((m) =>
      "exists" in m
        ? m.exists
          ? values.length > 0
          : !hasLeafAnywhere(root, leaf.path)
        : values.some((v) => m.test(v)),
    );
    if (!ok) return false;
  }
  for (const { key, branch: child } of branch.children) {
    if (!elements(object?.[key]).some((element) => matchesBranch(child, element, root))) return false;
  }
  return true;
}

/**
 * The pattern's conjunctive alternatives once every `$or` is multiplied out: for each, the value list of
 * every field path it tests (a later key having replaced an earlier one at the same path).
 */
export function patternAlternatives(
  pattern: EventPattern,
): Array<Array<{ path: string[]; matchers: unknown[] }>> {
  const rules: Array<Map<string, unknown[]>> = [new Map()];
  expand(pattern, [], rules);
  return rules.map((rule) =>
    [...rule].map(([at, matchers]) => ({ path: JSON.parse(at) as string[], matchers })),
  );
}

/** A pattern compiled for repeated matching. */
export interface CompiledPattern {
  branches: Branch[];
}

/**
 * Compiled patterns by their JSON text. Callers such as the realtime fan-out parse a stored filter for
 * every event, so the cache is keyed by text, not by object: stringifying a small pattern costs far less
 * than compiling it again. Bounded, oldest first out.
 */
const compiledByText = new Map<string, CompiledPattern>();
const MAX_CACHED_PATTERNS = 1000;
const last: { pattern?: EventPattern; compiled?: CompiledPattern } = {};

/** Compiles a validated pattern (cached by its JSON text). */
export function compileEventPattern(pattern: EventPattern): CompiledPattern {
  // The forwarder passes the same object for every event: skip even the stringify then.
  if (pattern === last.pattern) return last.compiled!;
  const text = JSON.stringify(pattern);
  let result = compiledByText.get(text);
  if (!result) {
    const rules: Array<Map<string, unknown[]>> = [new Map()];
    expand(pattern, [], rules);
    result = { branches: rules.map(toBranch) };
    if (compiledByText.size >= MAX_CACHED_PATTERNS) {
      compiledByText.delete(compiledByText.keys().next().value as string);
    }
    compiledByText.set(text, result);
  }
  last.pattern = pattern;
  last.compiled = result;
  return result;
}

/**
 * Whether a CloudEvent (or any JSON value) matches the pattern, with EventBridge's semantics.
 *
 * @example
 * ```ts
 * matchesEventPattern({ type: [{ prefix: "Order" }] }, { type: "OrderPlaced" }); // true
 * matchesEventPattern({ $or: [{ type: ["A"] }, { data: { ip: [{ cidr: "10.0.0.0/8" }] } }] }, event);
 * ```
 */
export function matchesEventPattern(pattern: EventPattern, event: unknown): boolean {
  return compileEventPattern(pattern).branches.some((branch) => matchesBranch(branch, event, event));
}
