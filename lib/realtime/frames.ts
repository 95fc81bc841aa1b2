import { z } from "zod";
import type { ErrorCode } from "../errors.ts";
import type { EventBusCloudEvent } from "../events/types.ts";

/** A client's correlation id, echoed back on the ack, pong or error that answers the frame. */
const frameId = z.union([z.string().max(128), z.number().int()]).optional();
/** Checked in full (length included: 200 characters) by `parseTopic`, which says which rule a name breaks. */
const topicName = z.string().min(1, "must not be empty");
/** An EventBridge-style event pattern; its content is validated by the pattern matcher. */
const pattern = z.record(z.string(), z.unknown());

export const subscribeFrame = z.strictObject({
  action: z.literal("subscribe"),
  id: frameId,
  topic: topicName,
  filter: pattern.optional(),
  /** The first global position wanted (the last position seen + 1); history is replayed from there. */
  from: z.number().int().min(0).optional(),
});

export const unsubscribeFrame = z.strictObject({
  action: z.literal("unsubscribe"),
  id: frameId,
  topic: topicName,
});

export const publishFrame = z.strictObject({
  action: z.literal("publish"),
  id: frameId,
  topic: topicName,
  data: z.unknown().refine((value) => value !== undefined, "Required"),
  /** Like Phoenix's `broadcast_from`: every subscriber but the publishing connection. */
  excludeSelf: z.boolean().default(false),
});

export const pingFrame = z.strictObject({ action: z.literal("ping"), id: frameId });

/** A fresh token for a connection whose token is about to expire; see `reauthenticate.ts`. */
export const authFrame = z.strictObject({
  action: z.literal("auth"),
  id: frameId,
  token: z.string().min(1, "must not be empty").max(8192, "must be at most 8192 characters"),
});

/** A presence member's state: a JSON object the client chooses (name, status, cursor...). */
const presenceState = z.record(z.string(), z.unknown());

/** Enters the topic's presence (or replaces the state when already present). */
export const presenceEnterFrame = z.strictObject({
  action: z.literal("presence.enter"),
  id: frameId,
  topic: topicName,
  state: presenceState.default({}),
});

export const presenceUpdateFrame = z.strictObject({
  action: z.literal("presence.update"),
  id: frameId,
  topic: topicName,
  state: presenceState,
});

export const presenceLeaveFrame = z.strictObject({
  action: z.literal("presence.leave"),
  id: frameId,
  topic: topicName,
});

export type SubscribeFrame = z.output<typeof subscribeFrame>;
export type UnsubscribeFrame = z.output<typeof unsubscribeFrame>;
export type PublishFrame = z.output<typeof publishFrame>;
export type PingFrame = z.output<typeof pingFrame>;
export type AuthFrame = z.output<typeof authFrame>;
export type PresenceEnterFrame = z.output<typeof presenceEnterFrame>;
export type PresenceUpdateFrame = z.output<typeof presenceUpdateFrame>;
export type PresenceLeaveFrame = z.output<typeof presenceLeaveFrame>;
export type FrameId = string | number | undefined;

/** A connection present on a topic, as presence frames and `GET /topics/{topic}/presence` show it. */
export interface PresenceMember {
  connectionId: string;
  /** The `sub` of the member's token: who it is, which its `state` cannot forge. */
  subject: string;
  state: unknown;
  /**
   * The topic's presence counter at this member's last change. Frames of different changes can arrive out
   * of order: apply one only if its `seq` is above every `seq` seen for that connection id.
   */
  seq: number;
}

/** Frames the bus sends to clients. */
export type ServerFrame =
  /**
   * `head` (subscriptions to event topics): the newest position when the subscription took effect. A
   * subscription without `from` that loses its connection before its first event resumes from `head + 1`.
   */
  | { type: "ack"; id?: string | number; head?: number }
  /** `connectionId` tells a client the id servers can message it by (`POST /connections/{id}/messages`). */
  | { type: "pong"; id?: string | number; connectionId: string }
  | { type: "events"; topic: string; events: EventBusCloudEvent[] }
  | { type: "message"; topic?: string; data: unknown; sender: string | null }
  | { type: "error"; id?: string | number; code: ErrorCode; message: string }
  /** To a member that entered: everyone present (a long list comes as several frames; merge them). */
  | { type: "presence.sync"; topic: string; members: PresenceMember[] }
  /** To the other members: one member's change. */
  | { type: "presence.join" | "presence.update" | "presence.leave"; topic: string; member: PresenceMember };

/** The `id` of a frame that may not have passed validation, if it is usable as a correlation id. */
export function frameIdOf(body: unknown): string | number | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const id = (body as { id?: unknown }).id;
  return frameId.safeParse(id).success ? (id as string | number | undefined) : undefined;
}
