import { v7 as uuidv7 } from "uuid";
import { EventBusError, validationFailed } from "../errors.ts";
import { limits } from "../limits.ts";
import type { ProposedEvent } from "./types.ts";

/** Event ids must also be valid SQS FIFO deduplication ids: 1–128 printable ASCII characters, no spaces. */
const EVENT_ID = /^[!-~]{1,128}$/;
const EVENT_TYPE = /^[^\s\p{Cc}][^\p{Cc}]{0,199}$/u;

/** Room for the CloudEvent envelope and SQS message attributes around `data` and `metadata`. */
const ENVELOPE_BYTES = 1024;

export interface ValidEvent {
  id: string;
  type: string;
  data: unknown;
  metadata: Record<string, unknown> | null;
}

/**
 * Checks a batch before it reaches the database: ids, types, duplicates within the batch and the size each
 * event will have once it leaves the bus as a CloudEvent. Fills in missing ids.
 */
export function validateEvents(streamId: string, events: readonly ProposedEvent[]): ValidEvent[] {
  if (events.length === 0) throw validationFailed("At least one event is required.");
  if (events.length > limits.maxEventsPerAppend) {
    throw new EventBusError(
      "PAYLOAD_TOO_LARGE",
      `At most ${limits.maxEventsPerAppend} events can be appended at once.`,
      { maxEvents: limits.maxEventsPerAppend },
    );
  }
  const seen = new Set<string>();
  return events.map((event, index) => {
    // Time-ordered ids keep the unique index on ids append-mostly, which keeps appends fast.
    const id = event.id ?? uuidv7();
    if (typeof id !== "string" || !EVENT_ID.test(id)) {
      throw validationFailed(`events[${index}].id must be 1-128 printable ASCII characters without spaces.`, {
        pointer: `/${index}/id`,
      });
    }
    if (seen.has(id)) throw validationFailed(`events[${index}].id '${id}' appears twice in this batch.`);
    seen.add(id);
    if (typeof event.type !== "string" || !EVENT_TYPE.test(event.type)) {
      throw validationFailed(`events[${index}].type must be 1-200 characters without control characters.`, {
        pointer: `/${index}/type`,
      });
    }
    const metadata = event.metadata ?? null;
    if (metadata !== null && (typeof metadata !== "object" || Array.isArray(metadata))) {
      throw validationFailed(`events[${index}].metadata must be an object.`, {
        pointer: `/${index}/metadata`,
      });
    }
    const data = event.data === undefined ? null : event.data;
    const bytes =
      Buffer.byteLength(JSON.stringify({ data, metadata })) +
      Buffer.byteLength(id) +
      Buffer.byteLength(event.type) +
      2 * streamId.length +
      ENVELOPE_BYTES;
    if (bytes > limits.maxEventBytes) {
      throw new EventBusError(
        "PAYLOAD_TOO_LARGE",
        `events[${index}] is ${bytes} bytes as a CloudEvent; the limit is ${limits.maxEventBytes}.`,
        { maxEventBytes: limits.maxEventBytes, eventBytes: bytes, index },
      );
    }
    return { id, type: event.type, data, metadata };
  });
}
