import type { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import pLimit from "p-limit";
import { allowedByPatterns } from "../auth/streamPatterns.ts";
import type { EventBusCloudEvent } from "../events/types.ts";
import { type EventPattern, matchesEventPattern } from "../subscriptions/eventPattern.ts";
import type { Membership } from "./connection.ts";
import { deleteConnection } from "./deleteConnection.ts";
import type { FanoutMessage } from "./fanoutMessage.ts";
import type { ServerFrame } from "./frames.ts";
import { eventFrames, POST_CONCURRENCY, postFrame } from "./postFrame.ts";
import { queryTopicMembers } from "./queryTopicMembers.ts";
import { skipOrDeliverAbove } from "./seam.ts";
import type { RealtimeTable } from "./table.ts";
import { topicsOfEvent } from "./topic.ts";

export interface BroadcastDeps {
  table: RealtimeTable;
  api: ApiGatewayManagementApiClient;
  /**
   * Hands `deliver` messages to other broadcaster invocations (the fan-out queue). Without it, every post
   * is made by this invocation.
   */
  handOff?: (messages: FanoutMessage[]) => Promise<void>;
  /** A hand-off that failed; this invocation then posts to every connection itself. */
  onHandOffError?: (error: unknown) => void;
  /** Default `CONNECTIONS_PER_INVOCATION`. */
  connectionsPerInvocation?: number;
  /** Connections posted to at once (default `POST_CONCURRENCY`, the management client's socket pool). */
  concurrency?: number;
  /** A post that failed for a reason other than `410 Gone` (after the SDK's retries); it is not retried. */
  onPostError?: (error: unknown, connectionId: string) => void;
}

export interface BroadcastResult {
  /** Frames accepted by API Gateway. */
  sent: number;
  /** Connections found gone and removed. */
  gone: string[];
}

const matchesFilter = (member: Membership, value: unknown): boolean =>
  member.filter === undefined || matchesEventPattern(JSON.parse(member.filter) as EventPattern, value);

/**
 * Delivers one fan-out message to every subscribed connection, honouring each membership's filter, the
 * subscriber's `streams` bound and the history/live seam. A connection that API Gateway reports gone is
 * removed with all its memberships; it never affects the others. Failing reads of the table throw before
 * anything is sent, so a retry of the whole message does not duplicate deliveries.
 */
export async function broadcast(deps: BroadcastDeps, message: FanoutMessage): Promise<BroadcastResult> {
  if (message.kind === "deliver") {
    const deliveries: Deliveries = new Map();
    for (const { frames, connectionIds } of message.deliveries) {
      for (const connectionId of connectionIds) add(deliveries, connectionId, frames);
    }
    return deliver(deps, deliveries);
  }
  const deliveries =
    message.kind === "events"
      ? await eventDeliveries(deps.table, message.events)
      : await messageDeliveries(deps.table, message);
  const share = deps.connectionsPerInvocation ?? CONNECTIONS_PER_INVOCATION;
  if (!deps.handOff || deliveries.size <= share) return deliver(deps, deliveries);
  // A large topic: this invocation posts to the first connections, other invocations to the rest, in
  // parallel (Discord's Manifold does the same across nodes). Handed off first, so they start at once.
  const entries = [...deliveries];
  const own = new Map(entries.slice(0, share));
  const rest: Array<[string, ServerFrame[]]> = entries.slice(share);
  const messages: FanoutMessage[] = [];
  for (let i = 0; i < rest.length; i += share) messages.push(...deliverMessages(rest.slice(i, i + share)));
  try {
    await deps.handOff(messages);
  } catch (error) {
    // Slower, but nobody misses the frames (if some hand-offs did go out, those connections get them twice).
    deps.onHandOffError?.(error);
    return deliver(deps, deliveries);
  }
  return deliver(deps, own);
}

/**
 * Connections one invocation posts to before it hands the rest to others. A post costs about a
 * millisecond of CPU in the SDK, so this keeps each invocation to a few hundred milliseconds.
 */
export const CONNECTIONS_PER_INVOCATION = 250;
/** `deliver` messages stay well below SQS's 1 MiB. */
const MAX_DELIVER_MESSAGE_BYTES = 800 * 1024;

/** Groups connections that get the same frames (filters rarely differ), within the SQS size limit. */
function deliverMessages(entries: Array<[string, ServerFrame[]]>): FanoutMessage[] {
  const groups = new Map<string, { frames: ServerFrame[]; connectionIds: string[] }>();
  for (const [connectionId, frames] of entries) {
    const key = frames.map(frameKey).join(",");
    const group = groups.get(key);
    if (group) group.connectionIds.push(connectionId);
    else groups.set(key, { frames, connectionIds: [connectionId] });
  }
  const message: FanoutMessage = { kind: "deliver", deliveries: [...groups.values()] };
  if (entries.length === 1 || Buffer.byteLength(JSON.stringify(message)) <= MAX_DELIVER_MESSAGE_BYTES) {
    return [message];
  }
  const half = Math.ceil(entries.length / 2);
  return [...deliverMessages(entries.slice(0, half)), ...deliverMessages(entries.slice(half))];
}

const frameKeys = new WeakMap<ServerFrame, number>();
let nextFrameKey = 0;
const frameKey = (frame: ServerFrame): number => {
  let key = frameKeys.get(frame);
  if (key === undefined) {
    key = nextFrameKey++;
    frameKeys.set(frame, key);
  }
  return key;
};

type Deliveries = Map<string, ServerFrame[]>;

function add(deliveries: Deliveries, connectionId: string, frames: ServerFrame[]) {
  const list = deliveries.get(connectionId);
  if (list) list.push(...frames);
  else deliveries.set(connectionId, frames);
}

async function eventDeliveries(
  table: RealtimeTable,
  events: readonly EventBusCloudEvent[],
): Promise<Deliveries> {
  const byTopic = new Map<string, EventBusCloudEvent[]>();
  for (const event of [...events].sort((a, b) => a.position - b.position)) {
    for (const topic of topicsOfEvent(event)) {
      const list = byTopic.get(topic);
      if (list) list.push(event);
      else byTopic.set(topic, [event]);
    }
  }
  const topics = await Promise.all(
    [...byTopic].map(async ([topic, topicEvents]) => ({
      topic,
      topicEvents,
      members: await queryTopicMembers(table, topic),
    })),
  );
  const deliveries: Deliveries = new Map();
  const pending: Array<Promise<void>> = [];
  // Members with the same selection of events share the same frame objects, serialised once.
  const shared = new Map<string, ServerFrame[]>();
  const framesFor = (topic: string, selected: EventBusCloudEvent[]) => {
    const key = `${topic}|${selected.map((event) => event.position).join(",")}`;
    let frames = shared.get(key);
    if (!frames) {
      frames = eventFrames(topic, selected);
      shared.set(key, frames);
    }
    return frames;
  };
  for (const { topic, topicEvents, members } of topics) {
    for (const member of members) {
      let selected = topicEvents.filter(
        (event) => allowedByPatterns(member.streams, event.streamid) && matchesFilter(member, event),
      );
      if (selected.length === 0) continue;
      if (member.catchingUp) {
        // Rare and short-lived: only while a `from` subscription replays history (see seam.ts).
        pending.push(
          skipOrDeliverAbove(table, member, selected.at(-1)!.position).then((above) => {
            if (above === null) return;
            const live = selected.filter((event) => event.position > above);
            if (live.length > 0) add(deliveries, member.connectionId, framesFor(topic, live));
          }),
        );
        continue;
      }
      if (member.seam !== undefined) {
        const seam = member.seam;
        selected = selected.filter((event) => event.position > seam);
      }
      if (selected.length > 0) add(deliveries, member.connectionId, framesFor(topic, selected));
    }
  }
  await Promise.all(pending);
  return deliveries;
}

async function messageDeliveries(
  table: RealtimeTable,
  message: Extract<FanoutMessage, { kind: "message" }>,
): Promise<Deliveries> {
  const frame: ServerFrame = {
    type: "message",
    topic: message.topic,
    data: message.data,
    sender: message.sender,
  };
  const deliveries: Deliveries = new Map();
  for (const member of await queryTopicMembers(table, message.topic)) {
    if (message.excludeSelf && member.connectionId === message.sender) continue;
    if (!matchesFilter(member, frame)) continue;
    add(deliveries, member.connectionId, [frame]);
  }
  return deliveries;
}

async function deliver(deps: BroadcastDeps, deliveries: Deliveries): Promise<BroadcastResult> {
  const limit = pLimit(deps.concurrency ?? POST_CONCURRENCY);
  const result: BroadcastResult = { sent: 0, gone: [] };
  await Promise.all(
    [...deliveries].map(([connectionId, frames]) =>
      limit(async () => {
        // One connection's frames go out one after another, so that they arrive in position order.
        for (const frame of frames) {
          try {
            if ((await postFrame(deps.api, connectionId, frame)) === "gone") {
              result.gone.push(connectionId);
              await deleteConnection(deps.table, connectionId);
              return;
            }
            result.sent++;
          } catch (error) {
            deps.onPostError?.(error, connectionId);
            return;
          }
        }
      }),
    ),
  );
  return result;
}
