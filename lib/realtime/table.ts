import { createHash } from "node:crypto";
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
} from "@aws-sdk/client-dynamodb";
import { limits } from "../limits.ts";
import type { DynamoSender } from "./retryTransient.ts";

/**
 * The realtime table: one DynamoDB table, keys `pk` (S) + `sk` (S), TTL attribute `expiresAt`, no indexes.
 *
 * | item                          | pk                         | sk                |
 * |-------------------------------|----------------------------|-------------------|
 * | a connection and its principal| `conn#<connectionId>`      | `meta`            |
 * |   (+ `topics`: a string set of its topics, bounded by a conditional write) |   |   |
 * | a membership, by connection   | `conn#<connectionId>`      | `topic#<topic>`   |
 * | a membership, by topic        | `topic#<topic>#<shard>`    | `conn#<connectionId>` |
 *
 * A membership is written twice: by topic for the broadcaster, by connection so that a disconnect (or a
 * `410 Gone`) finds and removes every trace of the connection with one Query.
 */
export interface RealtimeTable {
  /** A document client, or one wrapped by `retryTransient` (what the handlers use). */
  dynamo: DynamoSender;
  tableName: string;
}

/**
 * Each topic's members are spread over this many partition keys, so that one hot topic stays below
 * DynamoDB's per-partition throughput (3,000 reads/s) and the broadcaster reads the shards in parallel.
 * Changing it orphans existing memberships until their TTL, so it is a constant, not a setting.
 */
export const TOPIC_SHARDS = 8;

/** At most this many topics per connection, which bounds the cleanup work of a disconnect. */
export const MAX_TOPICS_PER_CONNECTION = 100;

export const connectionKey = (connectionId: string) => ({ pk: `conn#${connectionId}`, sk: "meta" });

export const connectionTopicKey = (connectionId: string, topic: string) => ({
  pk: `conn#${connectionId}`,
  sk: `topic#${topic}`,
});

export const shardOf = (connectionId: string): number =>
  createHash("sha1").update(connectionId).digest().readUInt16BE(0) % TOPIC_SHARDS;

export const topicMemberKey = (topic: string, connectionId: string) => ({
  pk: `topic#${topic}#${shardOf(connectionId)}`,
  sk: `conn#${connectionId}`,
});

/**
 * The TTL of a connection's items: API Gateway closes every connection after 2 hours, so anything older is
 * certainly stale; 10 minutes of slack covers clock skew and a slow `$disconnect`.
 */
export const expiresAtFor = (connectedAtMs: number, tokenExpiresAt?: number): number => {
  const byAge = Math.floor((connectedAtMs + limits.webSocketMaxConnectionMs + 10 * 60 * 1000) / 1000);
  // A connection is closed when its token expires, so its items are stale soon after that too.
  return tokenExpiresAt === undefined ? byAge : Math.min(byAge, tokenExpiresAt + 10 * 60);
};

/**
 * Creates the table with the key schema the CDK stack deploys, unless it exists. For the local stand-in
 * and tests; on AWS the stack owns the table (and its TTL setting).
 */
export async function createRealtimeTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [
        { AttributeName: "pk", AttributeType: "S" },
        { AttributeName: "sk", AttributeType: "S" },
      ],
      KeySchema: [
        { AttributeName: "pk", KeyType: "HASH" },
        { AttributeName: "sk", KeyType: "RANGE" },
      ],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
  for (let attempt = 0; attempt < 50; attempt++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === "ACTIVE") return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`table ${tableName} did not become active`);
}
