import { z } from "zod";
import { validationFailed } from "../errors.ts";
import { printable } from "../text/storableText.ts";
import { parseWith } from "../validation.ts";
import { type EventPattern, validateEventPattern } from "./eventPattern.ts";
import {
  type DeliveryFormat,
  type InputTransformer,
  inputTransformerSchema,
  parseInputTransformer,
} from "./inputTransform.ts";

/** `origin` (every event), `current` (only events appended from now on) or a position to start after. */
export type StartFrom = "origin" | "current" | number;

/** What a user asks for in `PUT /subscriptions/{name}`, with defaults applied. */
export interface SubscriptionDefinition {
  filter: EventPattern | null;
  startFrom: StartFrom;
  /** `stream`: a FIFO queue with one message group per stream, so each stream's events arrive in order. */
  ordering: "none" | "stream";
  /** Receives before SQS moves a message to the DLQ. */
  maxReceiveCount: number;
  /** Seconds a received message stays hidden from other consumers. */
  visibilityTimeout: number;
  /** `cloudevent`: each message is the event as a CloudEvent; `raw`: only its `data`. */
  format: DeliveryFormat;
  /** EventBridge's input transformer: what to send instead of the CloudEvent, or `null`. */
  inputTransformer: InputTransformer | null;
}

/** What a `startFrom` or replay `from` may be, as 400s state it. */
export const START_POSITION_RULE = 'must be "origin", "current" or an integer position >= 0';

/** 1–64 characters of `A-Za-z0-9 _ -`. */
export const SUBSCRIPTION_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** `npm run dev` names the realtime fan-out queue `<prefix>realtime`. */
const RESERVED_NAMES = new Set(["realtime"]);
/** SQS queue names: at most 80 characters, `.fifo` included. */
const MAX_QUEUE_NAME = 80;

export const definitionSchema = z
  .object({
    filter: z.unknown().optional(),
    startFrom: z
      .union(
        [z.literal("origin"), z.literal("current"), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)],
        { error: START_POSITION_RULE },
      )
      .optional(),
    ordering: z.enum(["none", "stream"]).optional(),
    maxReceiveCount: z.number().int().min(1).max(1000).optional(),
    visibilityTimeout: z
      .number()
      .int()
      .min(0)
      .max(12 * 60 * 60)
      .optional(),
    format: z.enum(["cloudevent", "raw"]).optional(),
    inputTransformer: inputTransformerSchema.nullable().optional(),
  })
  .strict();

/**
 * Parses and normalises a subscription definition (defaults: all events from the origin, no ordering,
 * 5 receives before the DLQ, 30 s visibility, each message the whole CloudEvent).
 * @throws {EventBusError} `VALIDATION_FAILED`.
 */
export function parseSubscriptionDefinition(body: unknown): SubscriptionDefinition {
  const input = parseWith(definitionSchema, body ?? {}, "Invalid subscription");
  const hasTransformer = input.inputTransformer !== undefined && input.inputTransformer !== null;
  if (hasTransformer && input.format === "raw") {
    throw validationFailed(
      'Invalid subscription: /format "raw" and /inputTransformer exclude each other (a transformer reads the whole CloudEvent; pick $.data paths instead).',
      { pointer: "/format" },
    );
  }
  return {
    filter: input.filter === undefined || input.filter === null ? null : validateEventPattern(input.filter),
    startFrom: input.startFrom ?? "origin",
    ordering: input.ordering ?? "none",
    maxReceiveCount: input.maxReceiveCount ?? 5,
    visibilityTimeout: input.visibilityTimeout ?? 30,
    format: input.format ?? "cloudevent",
    inputTransformer: hasTransformer ? parseInputTransformer(input.inputTransformer) : null,
  };
}

/** The subscription's queue names: `<prefix><name>` and `<prefix><name>-dlq`, with `.fifo` when ordered. */
export function queueNames(
  prefix: string,
  name: string,
  ordering: SubscriptionDefinition["ordering"],
): { queue: string; dlq: string } {
  const suffix = ordering === "stream" ? ".fifo" : "";
  return { queue: `${prefix}${name}${suffix}`, dlq: `${prefix}${name}-dlq${suffix}` };
}

/**
 * Checks a subscription name: 1-64 of `A-Za-z0-9_-`, short enough that its queue names stay within SQS's
 * 80 characters with the configured prefix.
 * @throws {EventBusError} `VALIDATION_FAILED`.
 */
export function assertSubscriptionName(name: string, queuePrefix: string): string {
  if (!SUBSCRIPTION_NAME.test(name)) {
    throw validationFailed(
      `Subscription name '${printable(name)}' must be 1-64 characters of A-Z, a-z, 0-9, '_' and '-'.`,
      { name },
    );
  }
  if (RESERVED_NAMES.has(name)) {
    throw validationFailed(`'${name}' is reserved: its queue name is the realtime fan-out queue's.`, {
      name,
    });
  }
  const longest = queueNames(queuePrefix, name, "stream").dlq;
  if (longest.length > MAX_QUEUE_NAME) {
    const max = MAX_QUEUE_NAME - (longest.length - name.length);
    throw validationFailed(
      `Subscription name '${name}' must be at most ${max} characters with this queue prefix (SQS queue names stop at ${MAX_QUEUE_NAME}).`,
      { name },
    );
  }
  return name;
}

/** Key-order-independent JSON, so `{a, b}` and `{b, a}` count as the same definition. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export const sameDefinition = (a: SubscriptionDefinition, b: SubscriptionDefinition): boolean =>
  canonical(a) === canonical(b);
