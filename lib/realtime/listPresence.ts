import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { PresenceMember } from "./frames.ts";
import { isLive, memberOf, type PresenceItem, presenceMemberKey } from "./presenceTable.ts";
import type { RealtimeTable } from "./table.ts";

/**
 * The members present on `topic`, in the order of their last change: one strongly consistent Query of the
 * topic's presence partition (at most `MAX_PRESENCE_MEMBERS` items). Members whose connection's items or
 * token have expired are left out: their connection is gone or about to be closed.
 */
export async function listPresence(
  { dynamo, tableName }: RealtimeTable,
  topic: string,
): Promise<PresenceMember[]> {
  const items: PresenceItem[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": presenceMemberKey(topic, "").pk },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) items.push(item as PresenceItem);
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  const now = Date.now();
  return items
    .filter((item) => isLive(item, now))
    .sort((a, b) => a.seq - b.seq)
    .map(memberOf);
}
