import { PutCommand } from "@aws-sdk/lib-dynamodb";
import type { Principal } from "../auth/token.ts";
import type { Connection } from "./connection.ts";
import { connectionKey, expiresAtFor, type RealtimeTable } from "./table.ts";

/** Records a new connection and the principal its token established. */
export async function putConnection(
  { dynamo, tableName }: RealtimeTable,
  connectionId: string,
  principal: Principal,
  connectedAt = Date.now(),
): Promise<Connection> {
  const connection: Connection = {
    connectionId,
    subject: principal.subject,
    scopes: [...principal.scopes],
    ...(principal.streams === undefined ? {} : { streams: [...principal.streams] }),
    connectedAt,
    expiresAt: expiresAtFor(connectedAt),
  };
  await dynamo.send(
    new PutCommand({ TableName: tableName, Item: { ...connectionKey(connectionId), ...connection } }),
  );
  return connection;
}
