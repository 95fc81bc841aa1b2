import type { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { EventBusError } from "../errors.ts";
import { limits } from "../limits.ts";
import { announcePresence } from "./announcePresence.ts";
import { authorizeSubscribe } from "./authorizeTopic.ts";
import { type Connection, principalOf } from "./connection.ts";
import { deleteConnection } from "./deleteConnection.ts";
import type { PresenceEnterFrame, PresenceMember, ServerFrame } from "./frames.ts";
import { getConnection } from "./getConnection.ts";
import { removePresence } from "./leavePresence.ts";
import { listPresence } from "./listPresence.ts";
import { frameBytes } from "./postFrame.ts";
import { joinPresenceDirectory } from "./presenceDirectory.ts";
import { probePresenceMembers } from "./presenceProbe.ts";
import {
  type PresenceItem,
  parsePresenceTopic,
  presenceMemberKey,
  presenceSlot,
  stateJson,
} from "./presenceTable.ts";
import { releaseTopic, reserveTopic } from "./reserveTopic.ts";
import type { RealtimeTable } from "./table.ts";

export interface PresenceDeps {
  table: RealtimeTable;
  api: ApiGatewayManagementApiClient;
  /** Sends a frame to the connection that sent the presence frame. */
  send: (frame: ServerFrame) => Promise<unknown>;
  onError?: (error: unknown, connectionId: string) => void;
}

/**
 * `presence.enter`: makes the connection a member of the topic's presence with `state`, acknowledges,
 * sends it `presence.sync` (everyone present, itself included) and tells the others with
 * `presence.join` (`presence.update` when it was present already).
 *
 * Every member ends up knowing every other, however many enter at once: each change writes its member item
 * and then lists the topic (both strongly consistent), so of two members entering together at least the
 * later lister sees the other; it lists the other in its sync and announces itself to it. Frames of
 * different changes may cross on the way: each carries the change's `seq`, and a client keeps, per
 * connection id, what the highest `seq` said (see the README).
 *
 * @throws {EventBusError} `VALIDATION_FAILED` (topic, member limit, topic slots), `FORBIDDEN`,
 * `PAYLOAD_TOO_LARGE` (state), `UNAUTHORIZED` (the connection went away meanwhile).
 */
export async function enterPresence(
  deps: PresenceDeps,
  connection: Connection,
  frame: Pick<PresenceEnterFrame, "id" | "topic" | "state">,
): Promise<void> {
  const topic = parsePresenceTopic(frame.topic);
  authorizeSubscribe(principalOf(connection), { kind: "ephemeral", name: topic });
  const state = stateJson(frame.state);
  const { table } = deps;
  const { connectionId } = connection;
  const newSlot = await reserveTopic(table, connectionId, presenceSlot(topic));
  let change: Awaited<ReturnType<typeof joinPresenceDirectory>>;
  try {
    // A full room may be full of members whose connections vanished without `$disconnect`.
    change = await joinPresenceDirectory(table, topic, connectionId, connection.expiresAt, async (ids) => {
      const gone = await probePresenceMembers(deps, topic, ids);
      return (gone?.size ?? 0) > 0;
    });
  } catch (error) {
    if (newSlot) await releaseTopic(table, connectionId, presenceSlot(topic));
    throw error;
  }
  const item: PresenceItem = {
    connectionId,
    topic,
    subject: connection.subject,
    state,
    seq: change.seq,
    tokenExpiresAt: connection.tokenExpiresAt,
    expiresAt: connection.expiresAt,
  };
  await putMemberItem(table, item);
  // `$disconnect` learns the connection's presences from the slots in the connection item as it deletes
  // it. If the item is still here, this presence's slot (taken above) will be seen; if not, the disconnect
  // may have removed the presence before it was written here, and only this handler can remove it. Both
  // reads need only follow the write above, so they go together.
  const [stillConnected, members] = await Promise.all([
    getConnection(table, connectionId),
    listPresence(table, topic),
  ]);
  if (!stillConnected) {
    // Announced: others may have listed the member in a sync meanwhile.
    await removePresence(deps, connectionId, topic, { subject: connection.subject });
    await releaseTopic(table, connectionId, presenceSlot(topic));
    throw new EventBusError("UNAUTHORIZED", "This connection is not registered; reconnect.");
  }
  await deps.send(frame.id === undefined ? { type: "ack" } : { type: "ack", id: frame.id });
  for (const sync of syncFrames(topic, members)) await deps.send(sync);
  const member: PresenceMember = {
    connectionId,
    subject: connection.subject,
    state: frame.state,
    seq: change.seq,
  };
  await announcePresence(
    {
      api: deps.api,
      onGone: (gone) => deleteConnection(table, gone, deps),
      ...(deps.onError ? { onError: deps.onError } : {}),
    },
    members,
    { type: change.wasPresent ? "presence.update" : "presence.join", topic, member },
  );
}

/**
 * Writes a member item unless a change numbered later (of the same connection) is already stored; with
 * `mustExist` (an update), also unless a leave removed it meanwhile. Returns whether it was written.
 */
export async function putMemberItem(
  table: RealtimeTable,
  item: PresenceItem,
  mustExist = false,
): Promise<boolean> {
  try {
    await table.dynamo.send(
      new PutCommand({
        TableName: table.tableName,
        Item: { ...presenceMemberKey(item.topic, item.connectionId), ...item },
        ConditionExpression: mustExist
          ? "attribute_exists(pk) AND seq < :seq"
          : "attribute_not_exists(pk) OR seq < :seq",
        ExpressionAttributeValues: { ":seq": item.seq },
      }),
    );
    return true;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    return false;
  }
}

/** The member list in `presence.sync` frames that each fit API Gateway's 128 KB message limit. */
export function syncFrames(topic: string, members: readonly PresenceMember[]): ServerFrame[] {
  const envelope = frameBytes({ type: "presence.sync", topic, members: [] });
  const frames: ServerFrame[] = [];
  let batch: PresenceMember[] = [];
  let size = envelope;
  for (const member of members) {
    const bytes = Buffer.byteLength(JSON.stringify(member)) + 1;
    if (batch.length > 0 && size + bytes > limits.maxWebSocketMessageBytes) {
      frames.push({ type: "presence.sync", topic, members: batch });
      batch = [];
      size = envelope;
    }
    batch.push(member);
    size += bytes;
  }
  if (batch.length > 0 || frames.length === 0) frames.push({ type: "presence.sync", topic, members: batch });
  return frames;
}
