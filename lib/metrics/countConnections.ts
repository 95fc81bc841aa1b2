import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { RealtimeTable } from "../realtime/table.ts";

/**
 * The open WebSocket connections: the connection items of the realtime table, counted page by page (a
 * `Select: COUNT` scan, so no item crosses the wire). Its cost grows with the table (every item is read,
 * about 0.5 read units per 4 KB), which is why it runs once per scrape or per minute and never on the
 * fan-out path.
 */
export async function countConnections(table: RealtimeTable): Promise<number> {
  let count = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await table.dynamo.send(
      new ScanCommand({
        TableName: table.tableName,
        Select: "COUNT",
        FilterExpression: "sk = :meta and begins_with(pk, :conn)",
        ExpressionAttributeValues: { ":meta": "meta", ":conn": "conn#" },
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    count += page.Count ?? 0;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return count;
}
