import { DeleteCommand } from "@aws-sdk/lib-dynamodb";
import { connectionTopicKey, type RealtimeTable, topicMemberKey } from "./table.ts";
import { bumpGeneration } from "./topicDirectory.ts";

/** Removes one topic membership of a connection (both copies) and tells broadcasters. Idempotent. */
export async function deleteMembership(
  { dynamo, tableName }: RealtimeTable,
  connectionId: string,
  topic: string,
): Promise<void> {
  await dynamo.send(new DeleteCommand({ TableName: tableName, Key: topicMemberKey(topic, connectionId) }));
  await dynamo.send(
    new DeleteCommand({ TableName: tableName, Key: connectionTopicKey(connectionId, topic) }),
  );
  await bumpGeneration({ dynamo, tableName }, topic);
}
