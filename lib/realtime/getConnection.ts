import { GetCommand } from "@aws-sdk/lib-dynamodb";
import type { Connection } from "./connection.ts";
import { connectionKey, type RealtimeTable } from "./table.ts";

/** The stored connection, or `undefined` when it is unknown (never connected, or already cleaned up). */
export async function getConnection(
  { dynamo, tableName }: RealtimeTable,
  connectionId: string,
): Promise<Connection | undefined> {
  const { Item } = await dynamo.send(
    new GetCommand({ TableName: tableName, Key: connectionKey(connectionId), ConsistentRead: true }),
  );
  return Item as Connection | undefined;
}
