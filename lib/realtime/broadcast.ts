import type { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { allowedByPatterns } from "../auth/streamPatterns.ts";
import { isEventBusError } from "../errors.ts";
import type { EventBusCloudEvent } from "../events/types.ts";
import { type EventPattern, matchesEventPattern } from "../subscriptions/eventPattern.ts";
import { closeExpiredConnection } from "./closeExpiredConnection.ts";
import { type Membership, tokenExpired } from "./connection.ts";
import { deleteConnection } from "./deleteConnection.ts";
import type { FanoutMessage } from "./fanoutMessage.ts";
import type { ServerFrame } from "./frames.ts";
import { eventFrames, POST_CONCURRENCY, postFrame } from "./postFrame.ts";
import { queryTopicsMembers } from "./queryTopicMembers.ts";
import { skipOrDeliverAbove } from "./seam.ts";
import type { RealtimeTable } from "./table.ts";
import { topicsOfEvent, wildcardOf } from "./topic.ts";

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
  /**
   * A frame that can never be posted to a connection (too large for it, a permanent 4xx other than
   * `410 Gone`): it is dropped for that connection only, and the connection's later frames still go out.
   */
  onPostError?: (error: unknown, connectionId: string) => void;
  /** Retries of a post that failed transiently (throttling, 5xx, a reset) beyond the SDK's own; default 2. */
  postRetries?: number;
  /** First back-off between those retries in ms, doubled each time (default 50). */
  postRetryDelayMs?: number;
}

export interface BroadcastResult {
  /** Frames accepted by API Gateway. */
  sent: number;
  /** Connections found gone and removed. */
  gone: string[];
  /** Frames dropped for good (see `onPostError`). */
  dropped: number;
  /** Connections whose token had expired: closed instead of posted to. */
  expired: string[];
  /** Connections still failing transiently after the retries, handed to a later invocation. */
  requeued: number;
}

/** Posts that kept failing transiently in a `deliver` message: SQS retries it, then moves it to the DLQ. */
export class TransientPostError extends Error {
  constructor(readonly connections: number) {
    super(`posts to ${connections} connection(s) kept failing transiently`);
    this.name = "TransientPostError";
  }
}

const matchesFilter = (member: Membership, value: unknown): boolean =>
  member.filter === undefined || matchesEventPattern(JSON.parse(member.filter) as EventPattern, value);

/**
 * Delivers one fan-out message to every subscribed connection, honouring each membership's filter, the
 * subscriber's `streams` bound and the history/live seam. A connection that API Gateway reports gone is
 * removed with all its memberships; it never affects the others. Failing reads of the table throw before
 * anything is sent, so a retry of the whole message does not duplicate deliveries.
 */
export async function broadcast(
  deps: BroadcastDeps,
  message: FanoutMessage,
  options: { redelivered?: boolean } = {},
): Promise<BroadcastResult> {
  if (message.kind === "deliver") {
    let deliveries: Deliveries = new Map();
    for (const { frames, connectionIds } of message.deliveries) {
      for (const connectionId of connectionIds) add(deliveries, connectionId, frames);
    }
    // A part of a large topic, perhaps large itself: split again (see `handOffBeyondShare`). Not when SQS
    // delivers it again after a failure: its other parts went out on the first attempt.
    if (!options.redelivered) deliveries = await handOffBeyondShare(deps, deliveries);
    const result = await deliver(deps, deliveries);
    // Retried whole by SQS (duplicates for the others are possible), and parked in the DLQ in the end.
    if (result.failed.size > 0) throw new TransientPostError(result.failed.size);
    return result.summary;
  }
  const { deliveries, expired } =
    message.kind === "events"
      ? await eventDeliveries(deps.table, message.events)
      : await messageDeliveries(deps.table, message);
  const closing = Promise.all(
    [...expired].map((connectionId) =>
      closeExpiredConnection(deps.table, deps.api, connectionId, {
        onError: (error) => deps.onPostError?.(error, connectionId),
      }),
    ),
  );
  const result = await fanOut(deps, deliveries);
  await closing;
  result.expired = [...expired];
  return result;
}

/**
 * Keeps this invocation's share of a large topic and hands the rest to other invocations, in at most two
 * `deliver` messages that their receivers split the same way. A tree rather than one message per share:
 * an invocation takes up to 10 queued messages at once, so a flat split of 10,000 connections into 19
 * messages let one invocation take most of them while others idled; halves keep the parts still queued
 * large and few, and each is split again by whichever invocation is free (Discord's Manifold splits
 * across nodes the same way). Handed off first, so that they start at once. Returns what to post here.
 */
async function handOffBeyondShare(deps: BroadcastDeps, deliveries: Deliveries): Promise<Deliveries> {
  const share = deps.connectionsPerInvocation ?? CONNECTIONS_PER_INVOCATION;
  if (!deps.handOff || deliveries.size <= share) return deliveries;
  const entries = [...deliveries];
  const rest: Array<[string, ServerFrame[]]> = entries.slice(share);
  const half = rest.length > share ? Math.ceil(rest.length / 2) : rest.length;
  const messages = [rest.slice(0, half), rest.slice(half)]
    .filter((part) => part.length > 0)
    .flatMap(deliverMessages);
  try {
    await deps.handOff(messages);
    return new Map(entries.slice(0, share));
  } catch (error) {
    // Slower, but nobody misses the frames (if some hand-offs did go out, those connections get them twice).
    deps.onHandOffError?.(error);
    return deliveries;
  }
}

async function fanOut(deps: BroadcastDeps, deliveries: Deliveries): Promise<BroadcastResult> {
  const own = await handOffBeyondShare(deps, deliveries);
  const { summary, failed } = await deliver(deps, own);
  if (failed.size > 0) {
    // Connections that kept failing transiently get their remaining frames from a later invocation, so
    // that neither this message (delivered to everyone else) nor the queue behind it waits for them.
    if (!deps.handOff) throw new TransientPostError(failed.size);
    await deps.handOff(deliverMessages([...failed]));
    summary.requeued = failed.size;
  }
  return summary;
}

/**
 * Connections one invocation posts to before it hands the rest to others. A post costs about 40 µs of
 * CPU (see `connectionPoster.ts`) and one API Gateway round trip, with `POST_CONCURRENCY` in flight: 1,000
 * keep an invocation's share to some tens of milliseconds of CPU, while a hand-off costs an SQS send,
 * another invocation's receive and a second set of keep-alive connections warming up. Measured with
 * `bench:fanout` (1,000 clients, 2 cores, same-hour alternating runs): posting all 1,000 from one
 * invocation cost the broadcasters 40-50 ms of CPU per fan-out against 58-114 ms when 500 were handed
 * to a second one, and the slowest client's latency was no worse.
 */
export const CONNECTIONS_PER_INVOCATION = 1000;
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

interface Selection {
  deliveries: Deliveries;
  /** Members whose connection's token has expired. */
  expired: Set<string>;
}

async function eventDeliveries(
  table: RealtimeTable,
  events: readonly EventBusCloudEvent[],
): Promise<Selection> {
  const byTopic = new Map<string, EventBusCloudEvent[]>();
  // Positions travel as decimal strings (CloudEvents integers are 32-bit); they stay below 2^53 as numbers.
  for (const event of [...events].sort((a, b) => Number(a.position) - Number(b.position))) {
    for (const topic of topicsOfEvent(event)) {
      const list = byTopic.get(topic);
      if (list) list.push(event);
      else byTopic.set(topic, [event]);
    }
  }
  const membersByTopic = await queryTopicsMembers(table, [...byTopic.keys()]);
  const topics = [...byTopic].map(([topic, topicEvents]) => ({
    topic,
    topicEvents,
    members: membersByTopic.get(topic) ?? [],
  }));
  const deliveries: Deliveries = new Map();
  const expired = new Set<string>();
  const now = Date.now();
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
      if (tokenExpired(member, now)) {
        expired.add(member.connectionId);
        continue;
      }
      let selected = topicEvents.filter(
        (event) => allowedByPatterns(member.streams, event.streamid) && matchesFilter(member, event),
      );
      if (selected.length === 0) continue;
      if (member.catchingUp) {
        // Rare and short-lived: only while a `from` subscription replays history (see seam.ts).
        pending.push(
          skipOrDeliverAbove(table, member, Number(selected.at(-1)!.position)).then((above) => {
            if (above === null) return;
            const live = selected.filter((event) => Number(event.position) > above);
            if (live.length > 0) add(deliveries, member.connectionId, framesFor(topic, live));
          }),
        );
        continue;
      }
      if (member.seam !== undefined) {
        const seam = member.seam;
        selected = selected.filter((event) => Number(event.position) > seam);
      }
      if (selected.length > 0) add(deliveries, member.connectionId, framesFor(topic, selected));
    }
  }
  await Promise.all(pending);
  return { deliveries, expired };
}

async function messageDeliveries(
  table: RealtimeTable,
  message: Extract<FanoutMessage, { kind: "message" }>,
): Promise<Selection> {
  const frame: ServerFrame = {
    type: "message",
    topic: message.topic,
    data: message.data,
    sender: message.sender,
  };
  const deliveries: Deliveries = new Map();
  const expired = new Set<string>();
  const now = Date.now();
  // The topic and the one wildcard that can cover it, in the same directory read (see topic.ts).
  const wildcard = wildcardOf(message.topic);
  const byTopic = await queryTopicsMembers(table, wildcard ? [message.topic, wildcard] : [message.topic]);
  for (const [topic, members] of byTopic) {
    for (const member of members) {
      if (tokenExpired(member, now)) {
        expired.add(member.connectionId);
        continue;
      }
      if (message.excludeSelf && member.connectionId === message.sender) continue;
      // A connection subscribed both directly and by wildcard gets the message once.
      if (deliveries.has(member.connectionId)) continue;
      // Checked at subscribe for a direct subscription; per message for a wildcard, as a direct one would be.
      if (topic !== message.topic && !allowedByPatterns(member.streams, message.topic)) continue;
      if (!matchesFilter(member, frame)) continue;
      add(deliveries, member.connectionId, [frame]);
    }
  }
  return { deliveries, expired };
}

async function deliver(
  deps: BroadcastDeps,
  deliveries: Deliveries,
): Promise<{ summary: BroadcastResult; failed: Deliveries }> {
  const summary: BroadcastResult = { sent: 0, gone: [], dropped: 0, expired: [], requeued: 0 };
  const failed: Deliveries = new Map();
  const retry = { retries: deps.postRetries ?? 2, delayMs: deps.postRetryDelayMs ?? 50 };
  const entries = [...deliveries];
  let next = 0;
  // `concurrency` loops, each taking the next connection when done with one (not a queue of a closure and
  // a promise per connection: at thousands of posts per message that bookkeeping cost as much as a post).
  const worker = async () => {
    while (next < entries.length) {
      const [connectionId, frames] = entries[next++]!;
      // One connection's frames go out one after another, so that they arrive in position order.
      for (let i = 0; i < frames.length; i++) {
        let outcome: "sent" | "gone";
        try {
          outcome = await postWithRetries(deps.api, connectionId, frames[i]!, retry);
        } catch (error) {
          if (isTransientPostError(error)) {
            failed.set(connectionId, frames.slice(i)); // the rest, in order, for a later attempt
            break;
          }
          // Never deliverable to this connection: drop this frame only and go on with the next.
          summary.dropped++;
          deps.onPostError?.(error, connectionId);
          continue;
        }
        if (outcome === "gone") {
          summary.gone.push(connectionId);
          await deleteConnection(deps.table, connectionId, {
            api: deps.api,
            ...(deps.onPostError ? { onError: deps.onPostError } : {}),
          });
          break;
        }
        summary.sent++;
      }
    }
  };
  const workers = Math.min(deps.concurrency ?? POST_CONCURRENCY, entries.length);
  await Promise.all(Array.from({ length: workers }, worker));
  return { summary, failed };
}

/** A post, and on a transient failure up to `retries` more after a growing, jittered pause. */
function postWithRetries(
  api: ApiGatewayManagementApiClient,
  connectionId: string,
  frame: ServerFrame,
  retry: { retries: number; delayMs: number },
  attempt = 0,
): Promise<"sent" | "gone"> {
  // Not an async function: the first attempt, nearly always the only one, costs no extra promise.
  return postFrame(api, connectionId, frame).catch(async (error: unknown) => {
    if (attempt >= retry.retries || !isTransientPostError(error)) throw error;
    const pause = retry.delayMs * 2 ** attempt * (0.5 + Math.random() / 2);
    await new Promise((resolve) => setTimeout(resolve, pause));
    return postWithRetries(api, connectionId, frame, retry, attempt + 1);
  });
}

/**
 * Worth trying again later: throttling (429 `LimitExceededException`), 5xx, resets and timeouts, and
 * anything unrecognised. Our own refusals (`PAYLOAD_TOO_LARGE`) and other 4xx answers are final.
 */
export function isTransientPostError(error: unknown): boolean {
  if (isEventBusError(error)) return false;
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  if (status === 429) return true;
  if (status !== undefined && status >= 400 && status < 500) return false;
  return true;
}
