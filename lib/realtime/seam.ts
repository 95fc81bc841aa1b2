import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { Membership } from "./connection.ts";
import { type RealtimeTable, topicMemberKey } from "./table.ts";
import { bumpGeneration } from "./topicDirectory.ts";

/*
 * The seam between history and live events when a client subscribes with `from`.
 *
 * The subscribe handler replays history from Postgres while the broadcaster, a different Lambda, delivers
 * live events concurrently. Every event above `from` must reach the client exactly once, history first.
 * The handshake runs on one DynamoDB item (the membership under its topic), whose conditional writes are
 * linearisable:
 *
 * 1. The handler stores the membership with `catchingUp`. While it is set the broadcaster delivers nothing
 *    to it, but records the highest position it skipped (`skipped`, only ever raised).
 * 2. The handler reads history up to the head (positions follow commit order, so nothing below the head
 *    can appear later), sends it, and then tries to `settle`: set `seam` = the last position it read and
 *    clear `catchingUp`, on condition that `skipped <= seam`.
 * 3. If the broadcaster skipped something above what the handler read, the condition fails; the handler
 *    reads and sends the newer history and tries again. Once settled, the broadcaster delivers exactly the
 *    positions above `seam`. A broadcaster that saw `catchingUp` but whose skip-write lands after the
 *    settle fails its condition, re-reads the item and delivers above the seam.
 *
 * So a position at or below the seam is sent only by the handler (before the seam exists, hence before any
 * live event), and a position above it only by the broadcaster.
 */

/**
 * The broadcaster's side: what to deliver to a member that was `catchingUp` when it was read, for events up
 * to position `highest`. Returns the position above which events are to be delivered, or `null` to deliver
 * nothing (the subscribe handler will send them, or the membership is gone).
 */
export async function skipOrDeliverAbove(
  { dynamo, tableName }: RealtimeTable,
  member: Pick<Membership, "connectionId" | "topic">,
  highest: number,
): Promise<number | null> {
  const Key = topicMemberKey(member.topic, member.connectionId);
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: tableName,
        Key,
        UpdateExpression: "SET skipped = :p",
        ConditionExpression: "catchingUp = :yes AND (attribute_not_exists(skipped) OR skipped < :p)",
        ExpressionAttributeValues: { ":p": highest, ":yes": true },
      }),
    );
    return null;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
  const { Item } = await dynamo.send(new GetCommand({ TableName: tableName, Key, ConsistentRead: true }));
  const current = Item as Membership | undefined;
  if (!current || current.catchingUp) return null; // gone, or a skip at or above `highest` is recorded
  return current.seam ?? Number.NEGATIVE_INFINITY;
}

/**
 * The subscribe handler's side: tries to hand over to the broadcaster at `seam` (the last position the
 * handler has read and sent). `behind` means live events above `seam` were skipped meanwhile: send the
 * newer history and try again. `gone` means the membership was removed or replaced meanwhile.
 */
export async function settleSeam(
  { dynamo, tableName }: RealtimeTable,
  member: Pick<Membership, "connectionId" | "topic">,
  seam: number,
): Promise<"settled" | "behind" | "gone"> {
  const Key = topicMemberKey(member.topic, member.connectionId);
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: tableName,
        Key,
        UpdateExpression: "SET seam = :s REMOVE catchingUp, skipped",
        ConditionExpression: "catchingUp = :yes AND (attribute_not_exists(skipped) OR skipped <= :s)",
        ExpressionAttributeValues: { ":s": seam, ":yes": true },
      }),
    );
    await bumpGeneration({ dynamo, tableName }, member.topic); // cached copies still say catchingUp
    return "settled";
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
  const { Item } = await dynamo.send(new GetCommand({ TableName: tableName, Key, ConsistentRead: true }));
  return (Item as Membership | undefined)?.catchingUp ? "behind" : "gone";
}
