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
  | { kind: "ephemeral"; name: string }
  /** `<prefix>.*`: every ephemeral topic `<prefix>.<segment>` (one more `.`-separated segment). */
  | { kind: "wildcard"; name: string; prefix: string };

export const isEventTopic = (topic: Topic): boolean =>
  topic.kind === "stream" || topic.kind === "category" || topic.kind === "all";

/** Ephemeral topic names, category names and stream ids are all at most this long. */
export const MAX_TOPIC_NAME_LENGTH = 200;
const CATEGORY = /^[A-Za-z0-9][A-Za-z0-9_.:@]{0,199}$/;
/** A client's input quoted in a message: cut, so that a 128 KB topic is not echoed back whole. */
const quote = (text: string) => (text.length > 64 ? `${text.slice(0, 64)}...` : text);
// `#` is excluded on purpose: it separates the parts of the DynamoDB keys that embed topic names.
const EPHEMERAL = /^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,199}$/;
/** What a wildcard looks like, so that a near miss gets the wildcard rule rather than the naming rule. */
const WILDCARD_SUFFIX = ".*";

/**
 * Parses a topic name: `stream:<streamId>`, `category:<name>`, `$all`, any other name of 1-200
 * characters of `A-Za-z0-9 _ . : @ / -` starting with a letter or digit (an ephemeral topic), or such a
 * name followed by `.*` (a wildcard over ephemeral topics; see `wildcardOf`).
 *
 * @throws {EventBusError} `VALIDATION_FAILED` for a malformed name.
 */
export function parseTopic(name: string): Topic {
  if (name.includes("*")) return parseWildcard(name);
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

/**
 * A wildcard is an ephemeral topic name whose last `.`-separated segment is `*`, and the only `*` in it:
 * `room:lobby.*` matches `room:lobby.a` and `room:lobby.b`, not `room:lobby` nor `room:lobby.a.b` (one
 * segment, as NATS's `*`). Matching one fixed segment keeps the broadcaster's cost per message constant:
 * a message on `a.b.c` can only match the wildcard `a.b.*`, read in the same request as `a.b.c` itself.
 */
function parseWildcard(name: string): Topic {
  const rule = `A wildcard topic is an ephemeral topic name followed by '.*' (its last '.'-separated segment is '*', the only '*' in it), e.g. 'room:lobby.*'; got '${quote(name)}'.`;
  if (name.startsWith("stream:") || name.startsWith("category:") || name === "$all") {
    throw validationFailed(
      `Wildcards apply to ephemeral topics only; use 'category:<name>' or '$all' for several streams. ${rule}`,
      { field: "topic", rule: "wildcard", topic: quote(name) },
    );
  }
  const prefix = name.slice(0, -WILDCARD_SUFFIX.length);
  if (!name.endsWith(WILDCARD_SUFFIX) || prefix.includes("*") || !EPHEMERAL.test(prefix)) {
    throw validationFailed(rule, { field: "topic", rule: "wildcard", topic: quote(name) });
  }
  if (name.length > MAX_TOPIC_NAME_LENGTH) {
    throw validationFailed(`Topics are at most ${MAX_TOPIC_NAME_LENGTH} characters; got ${name.length}.`, {
      field: "topic",
      rule: "length",
      topic: quote(name),
    });
  }
  return { kind: "wildcard", name, prefix };
}

/**
 * The wildcard subscription that covers an ephemeral topic, if it has one: `a.b.*` for `a.b.c`; none for
 * a name without `.` or ending in `.` (its last segment would be empty).
 */
export function wildcardOf(topic: string): string | undefined {
  const dot = topic.lastIndexOf(".");
  if (dot <= 0 || dot === topic.length - 1) return undefined;
  return `${topic.slice(0, dot)}${WILDCARD_SUFFIX}`;
}

/** The event topics an event is published on: its stream, its category and `$all`. */
export function topicsOfEvent(event: EventBusCloudEvent): string[] {
  return topicsOfStream(event.streamid);
}

/** The event topics every event of `streamId` is published on (see `topicsOfEvent`). */
export function topicsOfStream(streamId: string): string[] {
  return [`stream:${streamId}`, `category:${categoryOf(streamId)}`, "$all"];
}
