import { BatchWriteCommand } from "@aws-sdk/lib-dynamodb";
import { limits } from "../limits.ts";
import type { RealtimeTable } from "./table.ts";

type Key = { pk: string; sk: string };

/**
 * Deletes items in BatchWriteItem calls of at most 25, retrying whatever DynamoDB returns as unprocessed
 * (throttling) with a short back-off.
 */
export async function batchDelete({ dynamo, tableName }: RealtimeTable, keys: readonly Key[]): Promise<void> {
  for (let i = 0; i < keys.length; i += limits.dynamoBatchWriteSize) {
    let requests = keys
      .slice(i, i + limits.dynamoBatchWriteSize)
      .map((Key) => ({ DeleteRequest: { Key } as { Key: Record<string, unknown> } }));
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** attempt)));
      if (attempt > 8) throw new Error("DynamoDB kept returning unprocessed deletes");
      const result = await dynamo.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
      requests = (result.UnprocessedItems?.[tableName] ?? []) as typeof requests;
    }
  }
}
