import { EventBusError, validationFailed } from "../errors.ts";
import type { PresenceMember } from "./frames.ts";
import { parseTopic } from "./topic.ts";

/*
 * Presence items in the realtime table (see table.ts for the others):
 *
 * | item                                   | pk                  | sk                  |
 * |----------------------------------------|---------------------|---------------------|
 * | a topic's presence directory           | `pdir#<topic>`      | `pdir`              |
 * | a member: its state, by topic          | `presence#<topic>`  | `conn#<connectionId>` |
 *
 * The directory holds `members`, a map of connection id to that member's `expiresAt`, and `seq`, a counter
 * every change of the topic's presence increments in the same conditional write that admits or removes the
 * member. That write is where changes are ordered and where the member limit holds, however many clients
 * enter at once. The member items hold what is shown (state, subject, `seq` of the last change); listing
 * a topic is one strongly consistent Query of its partition. A connection's presences are found through
 * their slots in its connection item's `topics` set (`presenceSlot`), which a disconnect reads as it
 * deletes that item.
 */

/** Members present on one topic at once. Bounds a sync (and each change's Query) to ~230 KB. */
export const MAX_PRESENCE_MEMBERS = 100;
/** A member's `state`, as JSON, in bytes: enough for a name, an avatar URL, a cursor and a status. */
export const MAX_PRESENCE_STATE_BYTES = 2048;

export const presenceDirectoryKey = (topic: string) => ({ pk: `pdir#${topic}`, sk: "pdir" });
export const presenceMemberKey = (topic: string, connectionId: string) => ({
  pk: `presence#${topic}`,
  sk: `conn#${connectionId}`,
});
/**
 * The slot a presence takes in the connection's `topics` set (`reserveTopic.ts`), so that subscriptions and
 * presences together stay within `MAX_TOPICS_PER_CONNECTION`; `#` never occurs in a topic name.
 */
export const presenceSlot = (topic: string) => `presence#${topic}`;

/** The topics of the presence slots among a connection's `topics`. */
export const presenceTopicsOf = (slots: Iterable<string> | undefined): string[] =>
  [...(slots ?? [])]
    .filter((slot) => slot.startsWith("presence#"))
    .map((slot) => slot.slice("presence#".length));

/** A member item as stored under the topic. */
export interface PresenceItem {
  connectionId: string;
  topic: string;
  subject: string;
  /** The client's state as JSON text: stored as sent, and its size is what the limit counts. */
  state: string;
  seq: number;
  tokenExpiresAt?: number;
  expiresAt: number;
}

/** A stored member as clients see it. */
export const memberOf = (
  item: Pick<PresenceItem, "connectionId" | "subject" | "state" | "seq">,
): PresenceMember => ({
  connectionId: item.connectionId,
  subject: item.subject,
  state: JSON.parse(item.state) as unknown,
  seq: item.seq,
});

/** Is a stored member still live at `nowMs` (its connection's item TTL and token have not passed)? */
export const isLive = (
  item: Pick<PresenceItem, "expiresAt" | "tokenExpiresAt">,
  nowMs = Date.now(),
): boolean =>
  item.expiresAt * 1000 > nowMs && (item.tokenExpiresAt === undefined || item.tokenExpiresAt * 1000 > nowMs);

/**
 * The topic a presence frame or `GET /topics/{topic}/presence` names: an ephemeral topic (a room).
 *
 * @throws {EventBusError} `VALIDATION_FAILED` for a malformed name, an event topic or a wildcard.
 */
export function parsePresenceTopic(name: string): string {
  const topic = parseTopic(name);
  if (topic.kind !== "ephemeral") {
    throw validationFailed(
      `Presence applies to ephemeral topics (rooms such as 'room:lobby'), not to '${topic.name}' (${topic.kind === "wildcard" ? "a wildcard" : "an event topic"}).`,
      { field: "topic", rule: "ephemeral topic", topic: topic.name },
    );
  }
  return topic.name;
}

/**
 * A member's state as stored: JSON text of at most `MAX_PRESENCE_STATE_BYTES` bytes.
 *
 * @throws {EventBusError} `PAYLOAD_TOO_LARGE`.
 */
export function stateJson(state: unknown): string {
  const json = JSON.stringify(state);
  const bytes = Buffer.byteLength(json);
  if (bytes > MAX_PRESENCE_STATE_BYTES) {
    throw new EventBusError(
      "PAYLOAD_TOO_LARGE",
      `A presence 'state' is at most ${MAX_PRESENCE_STATE_BYTES} bytes of JSON; got ${bytes}.`,
      { field: "state", maxStateBytes: MAX_PRESENCE_STATE_BYTES },
    );
  }
  return json;
}
