import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { Membership } from "./connection.ts";
import { type RealtimeTable, TOPIC_SHARDS } from "./table.ts";

/**
 * Every membership of a topic, read from all its shards in parallel. Strongly consistent, so that a
 * subscription acknowledged a moment ago is seen by the next broadcast.
 */
export async function queryTopicMembers(table: RealtimeTable, topic: string): Promise<Membership[]> {
  const shards = await Promise.all(
    Array.from({ length: TOPIC_SHARDS }, (_, shard) => queryShard(table, `topic#${topic}#${shard}`)),
  );
  return shards.flat();
}

async function queryShard({ dynamo, tableName }: RealtimeTable, pk: string): Promise<Membership[]> {
  const members: Membership[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": pk },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) members.push(item as Membership);
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return members;
}
