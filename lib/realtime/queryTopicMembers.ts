import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { Membership } from "./connection.ts";
import type { RealtimeTable } from "./table.ts";
import { readDirectory, unlistEmptyShard } from "./topicDirectory.ts";

/**
 * Every membership of each of `topics`: one strongly consistent read of their directory entries, then a
 * strongly consistent Query of each shard listed there, in parallel (see `topicDirectory.ts`). A topic
 * nobody subscribes to costs no Query at all. Shards found empty are unlisted on the way.
 */
export async function queryTopicsMembers(
  table: RealtimeTable,
  topics: readonly string[],
): Promise<Map<string, Membership[]>> {
  const directory = await readDirectory(table, topics);
  const members = new Map<string, Membership[]>(topics.map((topic) => [topic, []]));
  const cleanups: Array<Promise<void>> = [];
  await Promise.all(
    [...directory].flatMap(([topic, entry]) =>
      entry.shards.map(async (shard) => {
        const found = await queryShard(table, `topic#${topic}#${shard}`);
        if (found.length === 0) cleanups.push(unlistEmptyShard(table, topic, shard, entry.gen));
        members.get(topic)!.push(...found);
      }),
    ),
  );
  await Promise.all(cleanups);
  return members;
}

/** Every membership of one topic; see `queryTopicsMembers`. */
export async function queryTopicMembers(table: RealtimeTable, topic: string): Promise<Membership[]> {
  return (await queryTopicsMembers(table, [topic])).get(topic)!;
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
