import type { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DeleteCommand } from "@aws-sdk/lib-dynamodb";
import { announcePresence } from "./announcePresence.ts";
import type { Connection } from "./connection.ts";
import { deleteConnection } from "./deleteConnection.ts";
import type { PresenceLeaveFrame, PresenceMember, ServerFrame } from "./frames.ts";
import { listPresence } from "./listPresence.ts";
import { leavePresenceDirectory } from "./presenceDirectory.ts";
import { type PresenceItem, parsePresenceTopic, presenceMemberKey, presenceSlot } from "./presenceTable.ts";
import { releaseTopic } from "./reserveTopic.ts";
import type { RealtimeTable } from "./table.ts";

type PresenceChange = Extract<ServerFrame, { member: PresenceMember }>;

export interface PresenceCleanupDeps {
  table: RealtimeTable;
  /** Without it, the other members are not told (nothing can post). */
  api?: ApiGatewayManagementApiClient;
  onError?: (error: unknown, connectionId: string) => void;
}

/**
 * Takes a connection off a topic's presence (`presence.leave`, `$disconnect`, `410 Gone`, an expired
 * token): the directory entry first (that write numbers the leave and happens once, whoever else removes
 * the member at the same time), then the member item (unless a later change of the same connection
 * replaced it). The remover that got the number tells the other members with `presence.leave`.
 * Idempotent. Returns whether this call removed a present member.
 */
export async function removePresence(
  deps: PresenceCleanupDeps,
  connectionId: string,
  topic: string,
  fallback: { subject?: string } = {},
): Promise<boolean> {
  const leave = await takeOffPresence(deps.table, connectionId, topic, fallback);
  if (!leave) return false;
  await announceLeave(deps, leave);
  return true;
}

/** The leave to announce, or `undefined` when another remover got there first. */
async function takeOffPresence(
  table: RealtimeTable,
  connectionId: string,
  topic: string,
  fallback: { subject?: string },
): Promise<PresenceChange | undefined> {
  const seq = await leavePresenceDirectory(table, topic, connectionId);
  let removed: PresenceItem | undefined;
  try {
    const { Attributes } = await table.dynamo.send(
      new DeleteCommand({
        TableName: table.tableName,
        Key: presenceMemberKey(topic, connectionId),
        // A leave numbered before a re-enter of the same connection must not delete what the enter wrote.
        ...(seq === undefined
          ? {}
          : { ConditionExpression: "seq < :seq", ExpressionAttributeValues: { ":seq": seq } }),
        ReturnValues: "ALL_OLD",
      }),
    );
    removed = Attributes as PresenceItem | undefined;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
  if (seq === undefined) return undefined;
  return {
    type: "presence.leave",
    topic,
    member: {
      connectionId,
      subject: removed?.subject ?? fallback.subject ?? "",
      state: removed ? (JSON.parse(removed.state) as unknown) : {},
      seq,
    },
  };
}

/** Tells the topic's members of a leave (nobody without `api`). */
async function announceLeave(deps: PresenceCleanupDeps, leave: PresenceChange): Promise<void> {
  if (!deps.api) return;
  const { table } = deps;
  await announcePresence(
    {
      api: deps.api,
      onGone: (gone) => deleteConnection(table, gone, deps),
      ...(deps.onError ? { onError: deps.onError } : {}),
    },
    await listPresence(table, leave.topic),
    leave,
  );
}

/**
 * `presence.leave`: takes the connection off the topic's presence, acknowledges (also when it was not
 * present: the outcome is the same), then tells the others, so that the ack does not wait for their posts
 * (nor for the cleanup of members found gone on the way).
 *
 * @throws {EventBusError} `VALIDATION_FAILED` for a topic presence does not apply to.
 */
export async function leavePresence(
  deps: PresenceCleanupDeps & { send: (frame: ServerFrame) => Promise<unknown> },
  connection: Connection,
  frame: Pick<PresenceLeaveFrame, "id" | "topic">,
): Promise<void> {
  const topic = parsePresenceTopic(frame.topic);
  const leave = await takeOffPresence(deps.table, connection.connectionId, topic, {
    subject: connection.subject,
  });
  await releaseTopic(deps.table, connection.connectionId, presenceSlot(topic));
  await deps.send(frame.id === undefined ? { type: "ack" } : { type: "ack", id: frame.id });
  if (leave) await announceLeave(deps, leave);
}
