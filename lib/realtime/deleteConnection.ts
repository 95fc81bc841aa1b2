import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import { batchDelete } from "./batchDelete.ts";
import { connectionKey, type RealtimeTable, topicMemberKey } from "./table.ts";
import { bumpGeneration } from "./topicDirectory.ts";

/**
 * Removes a connection and all its topic memberships (both copies of each). Used by `$disconnect` and
 * whenever API Gateway answers `410 Gone` for the connection. Idempotent.
 */
export async function deleteConnection(table: RealtimeTable, connectionId: string): Promise<void> {
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
    for (const item of page.Items ?? []) {
      const sk = String(item.sk);
      if (sk.startsWith("topic#")) keys.push(topicMemberKey(sk.slice("topic#".length), connectionId));
      keys.push({ pk, sk });
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  // Topic copies first: a connection item without memberships is harmless, the reverse would be found
  // by broadcasts until the TTL.
  await batchDelete(
    table,
    keys.filter((key) => key.pk !== pk),
  );
  // Broadcasters caching these topics' members must read them again.
  const topics = keys.filter((key) => key.pk === pk && key.sk.startsWith("topic#"));
  await Promise.all(topics.map((key) => bumpGeneration(table, key.sk.slice("topic#".length))));
  await batchDelete(
    table,
    keys.filter((key) => key.pk === pk),
  );
}
