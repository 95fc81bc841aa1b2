import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import { connectionKey, type RealtimeTable } from "./table.ts";

/** The topics a connection is subscribed to. */
export async function listConnectionTopics(
  { dynamo, tableName }: RealtimeTable,
  connectionId: string,
): Promise<string[]> {
  const topics: string[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: "pk = :pk and begins_with(sk, :prefix)",
        ExpressionAttributeValues: { ":pk": connectionKey(connectionId).pk, ":prefix": "topic#" },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) topics.push(String(item.topic));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return topics;
}
