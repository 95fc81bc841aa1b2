import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { Membership } from "./connection.ts";
import type { RealtimeTable } from "./table.ts";
import { type DirectoryEntry, readDirectory, unlistEmptyShard } from "./topicDirectory.ts";

interface CachedTopic {
  gen: number;
  members: Membership[];
}

/** Topics cached per table in this execution environment; beyond this, the cache starts over. */
const MAX_CACHED_TOPICS = 10_000;
const caches = new Map<string, Map<string, CachedTopic>>();

/**
 * Every membership of each of `topics`: one strongly consistent read of their directory entries, then,
 * for a topic whose `gen` changed since this environment last read its members, a strongly consistent
 * Query of each shard listed, in parallel (see `topicDirectory.ts`). A topic nobody subscribes to costs no
 * Query at all, and neither does a topic whose memberships did not change. Shards found empty are
 * unlisted on the way.
 */
export async function queryTopicsMembers(
  table: RealtimeTable,
  topics: readonly string[],
): Promise<Map<string, Membership[]>> {
  const directory = await readDirectory(table, topics);
  let cache = caches.get(table.tableName);
  if (!cache) {
    cache = new Map();
    caches.set(table.tableName, cache);
  }
  const members = new Map<string, Membership[]>(topics.map((topic) => [topic, []]));
  const cleanups: Array<Promise<void>> = [];
  await Promise.all(
    [...directory].map(async ([topic, entry]) => {
      const cached = cache.get(topic);
      if (cached && cached.gen === entry.gen) {
        members.set(topic, cached.members);
        return;
      }
      const found = await readTopic(table, topic, entry, cleanups);
      if (cache.size >= MAX_CACHED_TOPICS) cache.clear();
      cache.set(topic, { gen: entry.gen, members: found });
      members.set(topic, found);
    }),
  );
  for (const topic of topics) if (!directory.has(topic)) cache.delete(topic);
  await Promise.all(cleanups);
  return members;
}

/** Every membership of one topic; see `queryTopicsMembers`. */
export async function queryTopicMembers(table: RealtimeTable, topic: string): Promise<Membership[]> {
  return (await queryTopicsMembers(table, [topic])).get(topic)!;
}

async function readTopic(
  table: RealtimeTable,
  topic: string,
  entry: DirectoryEntry,
  cleanups: Array<Promise<void>>,
): Promise<Membership[]> {
  const shards = await Promise.all(
    entry.shards.map(async (shard) => {
      const found = await queryShard(table, `topic#${topic}#${shard}`);
      if (found.length === 0) cleanups.push(unlistEmptyShard(table, topic, shard, entry.gen));
      return found;
    }),
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
