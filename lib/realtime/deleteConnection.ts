import type { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { DeleteCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { batchDelete } from "./batchDelete.ts";
import { removePresence } from "./leavePresence.ts";
import { presenceTopicsOf } from "./presenceTable.ts";
import { connectionKey, type RealtimeTable, topicMemberKey } from "./table.ts";
import { bumpGeneration } from "./topicDirectory.ts";

export interface DeleteConnectionOptions {
  /** Posts `presence.leave` to the members of the topics the connection was present on; without it, nobody is told. */
  api?: ApiGatewayManagementApiClient;
  onError?: (error: unknown, connectionId: string) => void;
}

/** The keys of the items under `conn#<connectionId>`. */
async function connectionItems(table: RealtimeTable, connectionId: string) {
  const { pk } = connectionKey(connectionId);
  const keys: Array<{ pk: string; sk: string }> = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await table.dynamo.send(
      new QueryCommand({
        TableName: table.tableName,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": pk },
        ProjectionExpression: "pk, sk",
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) keys.push({ pk, sk: String(item.sk) });
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return keys;
}

/**
 * Connections this execution environment is removing or has removed lately, by table and connection id.
 * A connection that vanished without `$disconnect` is found gone by every post to it: a presence change in
 * a room of 50 with 10 such connections made 450 cleanups, each a Query and several writes, instead of 10.
 * Connection ids are never reused, so a removal once done stays done.
 */
const removals = new Map<string, { done: boolean; startedAt: number }>();
const MAX_REMEMBERED = 10_000;
/** A removal still "running" after this long was cut short (an invocation that timed out): try again. */
const STALE_RUNNING_MS = 60_000;

/**
 * Removes a connection, all its topic memberships (both copies of each) and its presences (telling the
 * other members when `api` is given). Used by `$disconnect` and whenever API Gateway answers `410 Gone`
 * for the connection. Idempotent. A call for a connection this environment is already removing, or has
 * removed, returns at once: waiting for it could wait in a circle (removing A tells B, found gone, whose
 * removal tells A), and whoever started that removal awaits it before its invocation ends.
 */
export async function deleteConnection(
  table: RealtimeTable,
  connectionId: string,
  options: DeleteConnectionOptions = {},
): Promise<void> {
  const key = `${table.tableName}\u0000${connectionId}`;
  const known = removals.get(key);
  if (known && (known.done || Date.now() - known.startedAt < STALE_RUNNING_MS)) return;
  if (removals.size >= MAX_REMEMBERED) removals.delete(removals.keys().next().value!);
  const removal = { done: false, startedAt: Date.now() };
  removals.set(key, removal);
  try {
    await removeConnection(table, connectionId, options);
    removal.done = true;
  } catch (error) {
    removals.delete(key); // not done: the next caller tries again
    throw error;
  }
}

async function removeConnection(
  table: RealtimeTable,
  connectionId: string,
  options: DeleteConnectionOptions,
): Promise<void> {
  const key = connectionKey(connectionId);
  const keys = await connectionItems(table, connectionId);
  const topicCopies = keys.filter((item) => item.sk.startsWith("topic#"));
  // Topic copies first: a connection item without memberships is harmless, the reverse would be found
  // by broadcasts until the TTL.
  await batchDelete(
    table,
    topicCopies.map((item) => topicMemberKey(item.sk.slice("topic#".length), connectionId)),
  );
  // Broadcasters caching these topics' members must read them again.
  await Promise.all(topicCopies.map((item) => bumpGeneration(table, item.sk.slice("topic#".length))));
  // The connection item says which topics it is present on, as it was when deleted: a `presence.enter`
  // takes its slot there before it writes anything else and checks after writing that the item still
  // exists, so each presence is removed here or by that enter itself (see enterPresence.ts).
  const { Attributes } = await table.dynamo.send(
    new DeleteCommand({ TableName: table.tableName, Key: key, ReturnValues: "ALL_OLD" }),
  );
  await batchDelete(
    table,
    keys.filter((item) => item.sk !== key.sk),
  );
  const presences = presenceTopicsOf(Attributes?.topics as Set<string> | undefined);
  await Promise.all(presences.map((topic) => removePresence({ table, ...options }, connectionId, topic)));
}
