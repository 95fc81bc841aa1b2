import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { EventBusError, validationFailed } from "../errors.ts";
import { connectionKey, MAX_TOPICS_PER_CONNECTION, type RealtimeTable } from "./table.ts";

/**
 * Takes one of the connection's `MAX_TOPICS_PER_CONNECTION` topic slots: adds `topic` to the `topics`
 * string set on the connection item, on condition that the set has room or already holds it. One
 * conditional write is linearisable, so the limit holds however many subscribes run at once (reading the
 * count first and writing after, as before, let 1,000 parallel subscribes through). Adding to a set is
 * idempotent, so a retried write (a connection reset after DynamoDB applied it) takes no second slot.
 *
 * @returns whether the topic was new to the connection (its slot is to be released if the subscribe fails).
 * @throws {EventBusError} `VALIDATION_FAILED` when the connection has no slot left, `UNAUTHORIZED` when
 * the connection is no longer registered.
 */
export async function reserveTopic(
  { dynamo, tableName }: RealtimeTable,
  connectionId: string,
  topic: string,
): Promise<boolean> {
  try {
    const { Attributes } = await dynamo.send(
      new UpdateCommand({
        TableName: tableName,
        Key: connectionKey(connectionId),
        UpdateExpression: "ADD topics :set",
        ConditionExpression:
          "attribute_exists(pk) AND (attribute_not_exists(topics) OR contains(topics, :topic) OR size(topics) < :max)",
        ExpressionAttributeValues: {
          ":set": new Set([topic]),
          ":topic": topic,
          ":max": MAX_TOPICS_PER_CONNECTION,
        },
        ReturnValues: "UPDATED_OLD",
      }),
    );
    const before = Attributes?.topics as Set<string> | undefined;
    return !before?.has(topic);
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
  const { Item } = await dynamo.send(
    new GetCommand({ TableName: tableName, Key: connectionKey(connectionId), ConsistentRead: true }),
  );
  if (!Item) throw new EventBusError("UNAUTHORIZED", "This connection is not registered; reconnect.");
  throw validationFailed(
    `A connection may subscribe to (or be present on) at most ${MAX_TOPICS_PER_CONNECTION} topics in all; unsubscribe from (or leave) one first.`,
    { field: "topic", maxTopics: MAX_TOPICS_PER_CONNECTION },
  );
}

/** Gives a topic's slot back (unsubscribe, or a subscribe that failed). Idempotent. */
export async function releaseTopic(
  { dynamo, tableName }: RealtimeTable,
  connectionId: string,
  topic: string,
): Promise<void> {
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: tableName,
        Key: connectionKey(connectionId),
        UpdateExpression: "DELETE topics :set",
        // Without it, the update would create a bare item for a connection already removed.
        ConditionExpression: "attribute_exists(pk)",
        ExpressionAttributeValues: { ":set": new Set([topic]) },
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}
