import type { Sql } from "postgres";
import { EventBusError, validationFailed } from "../errors.ts";
import { toCloudEvent } from "../events/cloudEvent.ts";
import { readAll, readHeadPosition } from "../events/readAll.ts";
import { matchesEventPattern, validateEventPattern } from "../subscriptions/eventPattern.ts";
import { authorizeSubscribe } from "./authorizeTopic.ts";
import { type Connection, type Membership, principalOf } from "./connection.ts";
import { deleteMembership } from "./deleteMembership.ts";
import type { ServerFrame, SubscribeFrame } from "./frames.ts";
import { markTopicListened } from "./listenedTopics.ts";
import { eventFrames } from "./postFrame.ts";
import { putMembership } from "./putMembership.ts";
import { releaseTopic, reserveTopic } from "./reserveTopic.ts";
import { settleSeam } from "./seam.ts";
import type { RealtimeTable } from "./table.ts";
import { isEventTopic, parseTopic, type Topic } from "./topic.ts";

/**
 * A `from` further back than this is refused: a WebSocket route has 29 seconds, and a client that far
 * behind should catch up over `GET /events` and subscribe from where that ends.
 */
export const MAX_REPLAY_EVENTS = 10_000;
/** Rounds of "read newer history, try to settle" before giving up under a sustained burst of appends. */
const MAX_SETTLE_ROUNDS = 20;

export interface SubscribeDeps {
  table: RealtimeTable;
  sql: Sql;
  /** CloudEvents `source` of replayed events (the listener uses the same). */
  source: string;
  /** Sends a frame to the subscribing connection. */
  send: (frame: ServerFrame) => Promise<unknown>;
}

/**
 * Subscribes a connection to a topic and acknowledges it. With `from`, the history from that position is
 * sent after the ack and before any live event, with no gap and no duplicate at the seam (see `seam.ts`).
 * Subscribing again to the same topic replaces the earlier filter.
 *
 * @throws {EventBusError} `VALIDATION_FAILED` (bad topic, filter or `from`, too many topics, too far
 * behind), `FORBIDDEN`, `UNAVAILABLE` (history could not be settled under a burst of appends).
 */
export async function subscribeToTopic(
  deps: SubscribeDeps,
  connection: Connection,
  frame: SubscribeFrame,
): Promise<void> {
  const topic = parseTopic(frame.topic);
  const principal = principalOf(connection);
  authorizeSubscribe(principal, topic);
  if ((topic.kind === "ephemeral" || topic.kind === "wildcard") && frame.from !== undefined) {
    throw validationFailed("'from' applies to event topics only: ephemeral topics keep no history.", {
      topic: topic.name,
    });
  }
  const filter = frame.filter === undefined ? undefined : validateEventPattern(frame.filter);
  if (frame.from !== undefined) {
    // A `from` past the head would wait silently for positions that may never be written here.
    const head = await readHeadPosition(deps.sql);
    if (frame.from > head + 1) {
      throw validationFailed(
        `'from' (${frame.from}) is beyond the head (${head}): at most ${head + 1}, the next position.`,
        { field: "from", from: frame.from, head },
      );
    }
  }
  const newTopic = await reserveTopic(deps.table, connection.connectionId, topic.name);

  const membership: Membership = {
    connectionId: connection.connectionId,
    topic: topic.name,
    ...(filter === undefined ? {} : { filter: JSON.stringify(filter) }),
    ...(connection.streams === undefined ? {} : { streams: connection.streams }),
    ...(frame.from === undefined ? {} : { catchingUp: true }),
    tokenExpiresAt: connection.tokenExpiresAt,
    expiresAt: connection.expiresAt,
  };
  const ack = (head: number | undefined): ServerFrame => ({
    type: "ack",
    ...(frame.id === undefined ? {} : { id: frame.id }),
    ...(head === undefined ? {} : { head }),
  });
  try {
    await putMembership(deps.table, membership);
    // Before the ack, so the listener sends every event committed after it (see listenedTopics.ts).
    if (isEventTopic(topic)) await markTopicListened(deps.sql, topic.name);
    if (frame.from === undefined) {
      // The head once the membership is in place: every event after it reaches this connection live, so
      // a client that loses the connection before its first event resumes from head + 1 with no gap.
      await deps.send(ack(isEventTopic(topic) ? await readHeadPosition(deps.sql) : undefined));
      return;
    }
    // With `from` the replay covers the gap a lost connection leaves; the client resumes after its last event.
    await replayHistory(deps, connection, topic, filter, frame.from, ack(undefined));
  } catch (error) {
    // Leave no half subscription behind: a new topic is undone entirely, a `from` one loses its membership.
    if (newTopic || frame.from !== undefined) {
      await deleteMembership(deps.table, connection.connectionId, topic.name);
    }
    if (newTopic) await releaseTopic(deps.table, connection.connectionId, topic.name);
    throw error;
  }
}

async function replayHistory(
  deps: SubscribeDeps,
  connection: Connection,
  topic: Topic,
  filter: ReturnType<typeof validateEventPattern> | undefined,
  from: number,
  ack: ServerFrame,
): Promise<void> {
  const read = (after: number, limit: number) =>
    readAll(deps.sql, {
      after,
      limit,
      ...(topic.kind === "category" ? { category: topic.category } : {}),
      ...(topic.kind === "stream"
        ? { streamPatterns: [topic.streamId] }
        : connection.streams === undefined
          ? {}
          : { streamPatterns: connection.streams }),
    });

  // Read first, acknowledge after: a `from` too far back is refused before anything was sent.
  let cursor = Math.max(0, from - 1);
  let page = await read(cursor, MAX_REPLAY_EVENTS);
  if (page.next !== null) {
    throw validationFailed(
      `More than ${MAX_REPLAY_EVENTS} events follow 'from'; catch up over GET /events and subscribe from where it ends.`,
      { maxReplayEvents: MAX_REPLAY_EVENTS },
    );
  }
  await deps.send(ack);
  for (let round = 0; round < MAX_SETTLE_ROUNDS; round++) {
    const events = page.events
      .map((event) => toCloudEvent(event, deps.source))
      .filter((event) => filter === undefined || matchesEventPattern(filter, event));
    for (const frame of eventFrames(topic.name, events)) await deps.send(frame);
    cursor = page.events.at(-1)?.position ?? cursor;
    const outcome = await settleSeam(
      deps.table,
      { connectionId: connection.connectionId, topic: topic.name },
      cursor,
    );
    if (outcome !== "behind") return;
    page = await read(cursor, MAX_REPLAY_EVENTS);
  }
  throw new EventBusError("UNAVAILABLE", "Live events kept overtaking the history replay; subscribe again.");
}
