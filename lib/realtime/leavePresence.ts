import type { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DeleteCommand } from "@aws-sdk/lib-dynamodb";
import { announcePresence } from "./announcePresence.ts";
import type { Connection } from "./connection.ts";
import { deleteConnection } from "./deleteConnection.ts";
import type { PresenceLeaveFrame, ServerFrame } from "./frames.ts";
import { listPresence } from "./listPresence.ts";
import { leavePresenceDirectory } from "./presenceDirectory.ts";
import { type PresenceItem, parsePresenceTopic, presenceMemberKey, presenceSlot } from "./presenceTable.ts";
import { releaseTopic } from "./reserveTopic.ts";
import type { RealtimeTable } from "./table.ts";

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
 * replaced it). The remover that got the number tells the other
 * members with `presence.leave`. Idempotent. Returns whether this call removed a present member.
 */
export async function removePresence(
  deps: PresenceCleanupDeps,
  connectionId: string,
  topic: string,
  fallback: { subject?: string } = {},
): Promise<boolean> {
  const { table } = deps;
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
  if (seq === undefined) return false;
  if (deps.api) {
    const api = deps.api;
    const members = await listPresence(table, topic);
    await announcePresence(
      {
        api,
        onGone: (gone) => deleteConnection(table, gone, deps),
        ...(deps.onError ? { onError: deps.onError } : {}),
      },
      members,
      {
        type: "presence.leave",
        topic,
        member: {
          connectionId,
          subject: removed?.subject ?? fallback.subject ?? "",
          state: removed ? (JSON.parse(removed.state) as unknown) : {},
          seq,
        },
      },
    );
  }
  return true;
}

/**
 * `presence.leave`: takes the connection off the topic's presence, tells the others, and acknowledges
 * (also when it was not present: the outcome is the same).
 *
 * @throws {EventBusError} `VALIDATION_FAILED` for a topic presence does not apply to.
 */
export async function leavePresence(
  deps: PresenceCleanupDeps & { send: (frame: ServerFrame) => Promise<unknown> },
  connection: Connection,
  frame: Pick<PresenceLeaveFrame, "id" | "topic">,
): Promise<void> {
  const topic = parsePresenceTopic(frame.topic);
  await removePresence(deps, connection.connectionId, topic, { subject: connection.subject });
  await releaseTopic(deps.table, connection.connectionId, presenceSlot(topic));
  await deps.send(frame.id === undefined ? { type: "ack" } : { type: "ack", id: frame.id });
}
