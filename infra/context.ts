import { Duration } from "aws-cdk-lib";
import { isEventBusError } from "../lib/errors.ts";
import { parseSubscriptionDefinition } from "../lib/subscriptions/definition.ts";
import type { EventBusSubscriptionProps } from "./subscription.ts";

/** A CDK context value that cannot be used; `cdk synth` reports its message and stops. */
export class ContextError extends Error {
  constructor(key: string, rule: string) {
    super(`Context '${key}' ${rule}.`);
    this.name = "ContextError";
  }
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * A structured context value. `cdk.json` holds it as JSON, but `-c key='{"a":{}}'` on the command line
 * hands the app a string: parse that, rather than treating the string as the value itself.
 *
 * @throws {ContextError} naming the key when the string is not JSON.
 */
export function jsonContext(key: string, value: unknown): unknown {
  if (typeof value !== "string") return value;
  if (value.trim() === "") return undefined;
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new ContextError(key, `is not valid JSON (${(error as Error).message})`);
  }
}

/**
 * A numeric context value (`-c listenerDesiredCount=3` arrives as a string, cdk.json as a number).
 * @throws {ContextError} naming the key when it is not a finite number.
 */
export function numberContext(key: string, value: unknown): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const n = typeof value === "number" ? value : Number(String(value).trim());
  if (!Number.isFinite(n) || (typeof value === "string" && value.trim() === "")) {
    throw new ContextError(key, `must be a number, not ${JSON.stringify(value)}`);
  }
  return n;
}

/** JSON context cannot hold a `Duration`: a consumer's `timeout` is given there in seconds. */
type ContextSubscription = Omit<EventBusSubscriptionProps, "consumer"> & {
  consumer?: Omit<NonNullable<EventBusSubscriptionProps["consumer"]>, "timeout"> & { timeout?: number };
};

const SUBSCRIPTION_MEMBERS = new Set(["definition", "consumer", "retainOnDelete"]);

/**
 * The `subscriptions` context: `{ "<name>": { "definition": {...}, "consumer": { "entry": "...",
 * "timeout": 30 } } }`, as an object or a JSON string. Definitions themselves are validated by the
 * subscription construct, with the same rules as `PUT /subscriptions/{name}`.
 *
 * @throws {ContextError} naming the key and the rule for anything else.
 */
export function subscriptionsFromContext(raw: unknown): Record<string, EventBusSubscriptionProps> {
  const key = "subscriptions";
  const value = jsonContext(key, raw) ?? {};
  if (!isPlainObject(value)) {
    throw new ContextError(key, `must be a JSON object of subscriptions by name, not ${describe(value)}`);
  }
  const entries = Object.entries(value).map(([name, item]): [string, EventBusSubscriptionProps] => {
    if (!isPlainObject(item)) {
      throw new ContextError(`${key}.${name}`, `must be an object, not ${describe(item)}`);
    }
    const unknown = Object.keys(item).filter((member) => !SUBSCRIPTION_MEMBERS.has(member));
    if (unknown.length > 0) {
      throw new ContextError(
        `${key}.${name}`,
        `has unknown member(s) ${unknown.join(", ")} (allowed: definition, consumer, retainOnDelete)`,
      );
    }
    const { consumer, ...rest } = item as ContextSubscription;
    if (rest.definition !== undefined && !isPlainObject(rest.definition)) {
      throw new ContextError(
        `${key}.${name}.definition`,
        `must be an object, not ${describe(rest.definition)}`,
      );
    }
    try {
      // The construct checks it again; here a mistake can still be named by its context key.
      parseSubscriptionDefinition(rest.definition ?? {});
    } catch (error) {
      if (!isEventBusError(error)) throw error;
      throw new ContextError(`${key}.${name}.definition`, `is invalid: ${error.message.replace(/\.$/, "")}`);
    }
    if (consumer === undefined) return [name, rest];
    if (!isPlainObject(consumer) || typeof consumer.entry !== "string") {
      throw new ContextError(`${key}.${name}.consumer`, `must be an object with an 'entry' module path`);
    }
    const { timeout, ...options } = consumer;
    if (timeout !== undefined && (typeof timeout !== "number" || !(timeout > 0))) {
      throw new ContextError(`${key}.${name}.consumer.timeout`, "must be a number of seconds > 0");
    }
    return [
      name,
      {
        ...rest,
        consumer: { ...options, ...(timeout === undefined ? {} : { timeout: Duration.seconds(timeout) }) },
      },
    ];
  });
  return Object.fromEntries(entries);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  return `a ${typeof value}`;
}
