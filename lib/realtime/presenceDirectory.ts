import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { validationFailed } from "../errors.ts";
import { MAX_PRESENCE_MEMBERS, presenceDirectoryKey } from "./presenceTable.ts";
import type { RealtimeTable } from "./table.ts";

/*
 * The presence directory of a topic (see presenceTable.ts): `members` maps connection ids to their
 * `expiresAt`, `seq` numbers the changes. Each function here is one conditional write, so the member limit
 * holds and `seq` orders changes however many handlers run at once.
 */

const isConditionFailure = (error: unknown) => error instanceof ConditionalCheckFailedException;

/**
 * Admits `connectionId` (or refreshes it when already present) and returns the change's `seq` and whether
 * it was present before. A full topic is first cleared of members whose items have expired (their
 * connection ended without `$disconnect` and nothing posted to it since), then, if still full, of those
 * `removeGone` finds gone (it gets the members' connection ids and returns whether it removed any).
 *
 * @throws {EventBusError} `VALIDATION_FAILED` when `MAX_PRESENCE_MEMBERS` live members are present.
 */
export async function joinPresenceDirectory(
  table: RealtimeTable,
  topic: string,
  connectionId: string,
  expiresAt: number,
  removeGone?: (connectionIds: string[]) => Promise<boolean>,
): Promise<{ seq: number; wasPresent: boolean }> {
  // Each failed attempt saw a different state (no map yet, then full, then just freed), so a few suffice.
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const { Attributes } = await table.dynamo.send(
        new UpdateCommand({
          TableName: table.tableName,
          Key: presenceDirectoryKey(topic),
          // The directory lives as long as its longest-lived member.
          UpdateExpression:
            "SET members.#id = :expiresAt, expiresAt = if_not_exists(expiresAt, :expiresAt) ADD seq :one",
          ConditionExpression:
            "attribute_exists(members) AND (attribute_exists(members.#id) OR size(members) < :max)",
          ExpressionAttributeNames: { "#id": connectionId },
          ExpressionAttributeValues: { ":expiresAt": expiresAt, ":one": 1, ":max": MAX_PRESENCE_MEMBERS },
          ReturnValues: "ALL_OLD",
        }),
      );
      const before = Attributes as
        | { members?: Record<string, number>; seq?: number; expiresAt?: number }
        | undefined;
      if (before?.expiresAt !== undefined && before.expiresAt < expiresAt) {
        await extendDirectory(table, topic, expiresAt);
      }
      return { seq: Number(before?.seq ?? 0) + 1, wasPresent: before?.members?.[connectionId] !== undefined };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    const { Item } = await table.dynamo.send(
      new GetCommand({ TableName: table.tableName, Key: presenceDirectoryKey(topic), ConsistentRead: true }),
    );
    const members = Item?.members as Record<string, number> | undefined;
    if (!members) {
      // A nested path can only be set inside a map that exists: create it, then try again.
      await table.dynamo.send(
        new UpdateCommand({
          TableName: table.tableName,
          Key: presenceDirectoryKey(topic),
          UpdateExpression: "SET members = if_not_exists(members, :empty)",
          ExpressionAttributeValues: { ":empty": {} },
        }),
      );
      continue;
    }
    // Room again since the write failed (a member left): try again.
    if (Object.keys(members).length < MAX_PRESENCE_MEMBERS) continue;
    if (await removeExpiredMembers(table, topic, members)) continue;
    if (!(await removeGone?.(Object.keys(members)))) break;
  }
  throw validationFailed(
    `Topic '${topic}' has ${MAX_PRESENCE_MEMBERS} members present, the limit; try again once one has left.`,
    { field: "topic", rule: "presence members", maxMembers: MAX_PRESENCE_MEMBERS },
  );
}

/** Moves the directory's TTL forward (never back), so that it outlives every member it lists. */
async function extendDirectory(table: RealtimeTable, topic: string, expiresAt: number): Promise<void> {
  try {
    await table.dynamo.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: presenceDirectoryKey(topic),
        UpdateExpression: "SET expiresAt = :expiresAt",
        ConditionExpression: "expiresAt < :expiresAt",
        ExpressionAttributeValues: { ":expiresAt": expiresAt },
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
}

/** Removes entries whose `expiresAt` has passed (each only if unchanged); returns whether any went. */
async function removeExpiredMembers(
  table: RealtimeTable,
  topic: string,
  members: Record<string, number>,
): Promise<boolean> {
  const now = Date.now() / 1000;
  const expired = Object.entries(members).filter(([, expiresAt]) => Number(expiresAt) <= now);
  let removed = false;
  for (const [connectionId, expiresAt] of expired) {
    try {
      await table.dynamo.send(
        new UpdateCommand({
          TableName: table.tableName,
          Key: presenceDirectoryKey(topic),
          UpdateExpression: "REMOVE members.#id ADD seq :one",
          ConditionExpression: "members.#id = :expiresAt",
          ExpressionAttributeNames: { "#id": connectionId },
          ExpressionAttributeValues: { ":expiresAt": expiresAt, ":one": 1 },
        }),
      );
      removed = true;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
  return removed;
}

/**
 * Numbers a state change of a present member (and refreshes its `expiresAt`); `undefined` when it is not
 * present.
 */
export async function touchPresenceDirectory(
  table: RealtimeTable,
  topic: string,
  connectionId: string,
  expiresAt: number,
): Promise<number | undefined> {
  try {
    const { Attributes } = await table.dynamo.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: presenceDirectoryKey(topic),
        UpdateExpression: "SET members.#id = :expiresAt ADD seq :one",
        ConditionExpression: "attribute_exists(members.#id)",
        ExpressionAttributeNames: { "#id": connectionId },
        ExpressionAttributeValues: { ":expiresAt": expiresAt, ":one": 1 },
        ReturnValues: "ALL_NEW",
      }),
    );
    if (Number(Attributes?.expiresAt) < expiresAt) await extendDirectory(table, topic, expiresAt);
    return Number(Attributes?.seq);
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    return undefined;
  }
}

/**
 * Removes a member; returns the change's `seq`, or `undefined` when it was not present (someone else
 * removed it: exactly one remover gets a `seq`, and only that one announces the leave).
 */
export async function leavePresenceDirectory(
  table: RealtimeTable,
  topic: string,
  connectionId: string,
): Promise<number | undefined> {
  try {
    const { Attributes } = await table.dynamo.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: presenceDirectoryKey(topic),
        UpdateExpression: "REMOVE members.#id ADD seq :one",
        ConditionExpression: "attribute_exists(members.#id)",
        ExpressionAttributeNames: { "#id": connectionId },
        ExpressionAttributeValues: { ":one": 1 },
        ReturnValues: "UPDATED_NEW",
      }),
    );
    return Number(Attributes?.seq);
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    return undefined;
  }
}
