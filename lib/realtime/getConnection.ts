import {
  type ApiGatewayManagementApiClient,
  GetConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import type { Connection } from "./connection.ts";
import { isGone } from "./postFrame.ts";
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

/**
 * Whether API Gateway says the connection is gone (`GetConnection` answers `410 Gone`): its socket closed
 * and, if `$disconnect` was lost, nothing else has noticed. Other failures (throttling, 5xx) throw.
 */
export async function isConnectionGone(
  api: ApiGatewayManagementApiClient,
  connectionId: string,
): Promise<boolean> {
  try {
    await api.send(new GetConnectionCommand({ ConnectionId: connectionId }));
    return false;
  } catch (error) {
    if (isGone(error)) return true;
    throw error;
  }
}
