import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { BatchGetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { type RealtimeTable, TOPIC_SHARDS } from "./table.ts";

/*
 * The topic directory: one item per topic (`dir#<topic>` / `dir`) holding the set of its shards that may
 * have members (`shards`, a number set) and a generation counter (`gen`). The broadcaster reads the
 * directory items of every topic of a batch in one strongly consistent BatchGetItem and queries only the
 * shards listed, so an event nobody listens to costs one read request per batch instead of 24 queries.
 *
 * Correctness ("a subscription acknowledged a moment ago sees the next event"):
 * - Subscribing writes the membership first, then `ADD shards :s, gen :1`, then acknowledges. A broadcast
 *   that starts after the ack reads the directory after that write, so it queries the member's shard.
 * - Nobody removes a shard eagerly. The broadcaster, finding a listed shard empty, removes it on condition
 *   that `gen` is still what it read. A subscribe that raced it either put its membership before the
 *   broadcaster's query (the query sees it: no removal), or adds its shard (and bumps `gen`) after the
 *   membership put, hence after the query: the removal either fails its condition or lands before the
 *   re-add. Either way the shard is listed again once the subscribe is acknowledged.
 * - `ADD` of a set member is idempotent and an extra `gen` increment is harmless, so retries are safe.
 *
 * `gen` also validates the broadcaster's cache of a topic's memberships (`queryTopicMembers.ts`): every
 * change of a membership bumps it once the change is written (subscribe, unsubscribe, disconnect or
 * `410 Gone`, a fresh token, the end of a `from` replay), before it is acknowledged. A broadcast whose
 * directory read shows the `gen` it cached under reuses the members it read then, so a warm broadcaster
 * reads one BatchGetItem per batch and nothing else while nobody subscribes or leaves.
 */

export const directoryKey = (topic: string) => ({ pk: `dir#${topic}`, sk: "dir" });

/** Lists `shard` for `topic` in the directory (after the membership was written; see above). */
export async function registerShard(
  { dynamo, tableName }: RealtimeTable,
  topic: string,
  shard: number,
  expiresAt: number,
): Promise<void> {
  await dynamo.send(
    new UpdateCommand({
      TableName: tableName,
      Key: directoryKey(topic),
      // The TTL only moves forward: memberships written later live longer.
      UpdateExpression: "ADD shards :shard, gen :one SET expiresAt = :expiresAt",
      ExpressionAttributeValues: { ":shard": new Set([shard]), ":one": 1, ":expiresAt": expiresAt },
    }),
  );
}

/**
 * Tells broadcasters that a membership of `topic` changed (after the change is written). Never creates
 * a directory item: a topic without one has no members to cache.
 */
export async function bumpGeneration({ dynamo, tableName }: RealtimeTable, topic: string): Promise<void> {
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: tableName,
        Key: directoryKey(topic),
        UpdateExpression: "ADD gen :one",
        ConditionExpression: "attribute_exists(pk)",
        ExpressionAttributeValues: { ":one": 1 },
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}

export interface DirectoryEntry {
  shards: number[];
  gen: number;
}

/** BatchGetItem takes at most 100 keys. */
const BATCH_GET_KEYS = 100;

/**
 * The directory entries of `topics` (strongly consistent), one BatchGetItem per 100 topics, sent in
 * parallel; topics without an entry have no members.
 */
export async function readDirectory(
  { dynamo, tableName }: RealtimeTable,
  topics: readonly string[],
): Promise<Map<string, DirectoryEntry>> {
  const entries = new Map<string, DirectoryEntry>();
  const chunks: string[][] = [];
  for (let i = 0; i < topics.length; i += BATCH_GET_KEYS) chunks.push(topics.slice(i, i + BATCH_GET_KEYS));
  await Promise.all(
    chunks.map(async (chunk) => {
      let keys: Array<Record<string, unknown>> = chunk.map(directoryKey);
      for (let attempt = 0; keys.length > 0; attempt++) {
        if (attempt > 0)
          await new Promise((resolve) => setTimeout(resolve, Math.min(500, 10 * 2 ** attempt)));
        if (attempt > 10) throw new Error("DynamoDB kept returning unprocessed directory reads");
        const result = await dynamo.send(
          new BatchGetCommand({ RequestItems: { [tableName]: { Keys: keys, ConsistentRead: true } } }),
        );
        for (const item of result.Responses?.[tableName] ?? []) {
          const shards = [...((item.shards as Set<number> | undefined) ?? [])].filter(
            (shard) => Number.isInteger(shard) && shard >= 0 && shard < TOPIC_SHARDS,
          );
          entries.set(String(item.pk).slice("dir#".length), { shards, gen: Number(item.gen ?? 0) });
        }
        keys = (result.UnprocessedKeys?.[tableName]?.Keys ?? []) as typeof keys;
      }
    }),
  );
  return entries;
}

/** Unlists a shard found empty, unless a subscribe touched the topic since `gen` was read. */
export async function unlistEmptyShard(
  { dynamo, tableName }: RealtimeTable,
  topic: string,
  shard: number,
  gen: number,
): Promise<void> {
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: tableName,
        Key: directoryKey(topic),
        UpdateExpression: "DELETE shards :shard",
        ConditionExpression: "gen = :gen",
        ExpressionAttributeValues: { ":shard": new Set([shard]), ":gen": gen },
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}
