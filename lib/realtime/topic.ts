import { validationFailed } from "../errors.ts";
import { categoryOf, isValidStreamId } from "../events/streamId.ts";
import type { EventBusCloudEvent } from "../events/types.ts";

/**
 * What a WebSocket client can subscribe to. Event topics carry appended events; every other topic is an
 * ephemeral channel that only carries messages published to it (nothing is stored).
 */
export type Topic =
  | { kind: "stream"; name: string; streamId: string }
  | { kind: "category"; name: string; category: string }
  | { kind: "all"; name: "$all" }
  | { kind: "ephemeral"; name: string };

export const isEventTopic = (topic: Topic): boolean => topic.kind !== "ephemeral";

/** Ephemeral topic names, category names and stream ids are all at most this long. */
export const MAX_TOPIC_NAME_LENGTH = 200;
const CATEGORY = /^[A-Za-z0-9][A-Za-z0-9_.:@]{0,199}$/;
/** A client's input quoted in a message: cut, so that a 128 KB topic is not echoed back whole. */
const quote = (text: string) => (text.length > 64 ? `${text.slice(0, 64)}...` : text);
// `#` is excluded on purpose: it separates the parts of the DynamoDB keys that embed topic names.
const EPHEMERAL = /^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,199}$/;

/**
 * Parses a topic name: `stream:<streamId>`, `category:<name>`, `$all`, or any other name of 1-200
 * characters of `A-Za-z0-9 _ . : @ / -` starting with a letter or digit (an ephemeral topic).
 *
 * @throws {EventBusError} `VALIDATION_FAILED` for a malformed name.
 */
export function parseTopic(name: string): Topic {
  if (name === "$all") return { kind: "all", name };
  if (name.startsWith("stream:")) {
    const streamId = name.slice("stream:".length);
    if (!isValidStreamId(streamId)) {
      throw validationFailed(
        `'stream:' must be followed by a stream id (1-${MAX_TOPIC_NAME_LENGTH} characters of A-Z a-z 0-9 _ . : @ - starting with a letter or digit); got '${quote(streamId)}'.`,
        { field: "topic", topic: quote(name) },
      );
    }
    return { kind: "stream", name, streamId };
  }
  if (name.startsWith("category:")) {
    const category = name.slice("category:".length);
    if (!CATEGORY.test(category)) {
      throw validationFailed(
        `'category:' must be followed by a category (1-${MAX_TOPIC_NAME_LENGTH} characters of A-Z a-z 0-9 _ . : @, a stream id's part before '-'); got '${quote(category)}'.`,
        { field: "topic", topic: quote(name) },
      );
    }
    return { kind: "category", name, category };
  }
  if (!EPHEMERAL.test(name)) {
    throw validationFailed(
      `Topics are 'stream:<id>', 'category:<name>', '$all', or 1-${MAX_TOPIC_NAME_LENGTH} characters of A-Z a-z 0-9 _ . : @ / - starting with a letter or digit; got '${quote(name)}' (${name.length} characters).`,
      { field: "topic", topic: quote(name) },
    );
  }
  return { kind: "ephemeral", name };
}

/** The event topics an event is published on: its stream, its category and `$all`. */
export function topicsOfEvent(event: EventBusCloudEvent): string[] {
  return [`stream:${event.streamid}`, `category:${categoryOf(event.streamid)}`, "$all"];
}
