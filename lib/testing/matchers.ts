import { type EventPattern, matchesEventPattern } from "../subscriptions/eventPattern.ts";

/**
 * What `expectEvents` looks for in each message: a partial CloudEvent (`{type: "OrderPlaced", data:
 * {total: 42}}`: every given member must be equal, nested objects partially), a predicate, or an
 * EventBridge pattern wrapped in `pattern(...)` (`pattern({type: [{prefix: "Order"}]})`).
 */
export type EventMatcher =
  | ((event: Record<string, unknown>) => boolean)
  | { readonly eventPattern: EventPattern }
  | Record<string, unknown>;

/** Marks an EventBridge-style pattern, matched as persistent subscriptions and realtime filters match. */
export function pattern(eventPattern: Record<string, unknown>): { readonly eventPattern: EventPattern } {
  return { eventPattern: eventPattern as EventPattern };
}

/** Whether an event satisfies a matcher. */
export function matches(matcher: EventMatcher, event: Record<string, unknown>): boolean {
  if (typeof matcher === "function") return matcher(event);
  if (isPatternMatcher(matcher)) return matchesEventPattern(matcher.eventPattern, event);
  return partialEquals(matcher, event);
}

/** A short, readable form of a matcher for failure messages. */
export function describeMatcher(matcher: EventMatcher): string {
  if (typeof matcher === "function") return matcher.name ? `predicate ${matcher.name}` : "a predicate";
  if (isPatternMatcher(matcher)) return `pattern ${JSON.stringify(matcher.eventPattern)}`;
  return JSON.stringify(matcher);
}

const isPatternMatcher = (matcher: object): matcher is { eventPattern: EventPattern } =>
  Object.keys(matcher).length === 1 && "eventPattern" in matcher;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Every member of `expected` equals the one in `actual`; objects compare partially, arrays element by
 * element. A number matches its decimal string, so `{position: 7}` matches the bus's `"position": "7"`.
 */
export function partialEquals(expected: unknown, actual: unknown): boolean {
  if (isObject(expected)) {
    if (!isObject(actual)) return false;
    return Object.entries(expected).every(([key, value]) => partialEquals(value, actual[key]));
  }
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) &&
      actual.length === expected.length &&
      expected.every((value, i) => partialEquals(value, actual[i]))
    );
  }
  if (typeof expected === "number" && typeof actual === "string") return String(expected) === actual;
  return Object.is(expected, actual);
}
