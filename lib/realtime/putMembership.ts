import { PutCommand } from "@aws-sdk/lib-dynamodb";
import type { Membership } from "./connection.ts";
import { connectionTopicKey, type RealtimeTable, shardOf, topicMemberKey } from "./table.ts";
import { registerShard } from "./topicDirectory.ts";

/**
 * Stores a topic membership (replacing an earlier one of the same connection and topic) and lists its
 * shard in the topic directory. The copy under the connection is written first, so that a disconnect
 * racing this write still finds the topic copy.
 */
export async function putMembership(
  { dynamo, tableName }: RealtimeTable,
  membership: Membership,
): Promise<void> {
  const { connectionId, topic, expiresAt } = membership;
  await dynamo.send(
    new PutCommand({
      TableName: tableName,
      Item: { ...connectionTopicKey(connectionId, topic), topic, shard: shardOf(connectionId), expiresAt },
    }),
  );
  await dynamo.send(
    new PutCommand({ TableName: tableName, Item: { ...topicMemberKey(topic, connectionId), ...membership } }),
  );
  // After the membership, before the ack: see topicDirectory.ts.
  await registerShard({ dynamo, tableName }, topic, shardOf(connectionId), expiresAt);
}
