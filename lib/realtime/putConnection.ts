import { PutCommand } from "@aws-sdk/lib-dynamodb";
import type { Principal } from "../auth/token.ts";
import type { Connection } from "./connection.ts";
import { connectionKey, expiresAtFor, type RealtimeTable } from "./table.ts";

/** Records a new connection and the principal its token established (with the token's expiry). */
export async function putConnection(
  { dynamo, tableName }: RealtimeTable,
  connectionId: string,
  principal: Principal,
  connectedAt = Date.now(),
): Promise<Connection> {
  // Verifiers always set `expiresAt`; a principal without one gets API Gateway's 2-hour connection limit.
  const tokenExpiresAt = principal.expiresAt ?? Math.floor(expiresAtFor(connectedAt));
  const connection: Connection = {
    connectionId,
    subject: principal.subject,
    scopes: [...principal.scopes],
    ...(principal.streams === undefined ? {} : { streams: [...principal.streams] }),
    connectedAt,
    tokenExpiresAt,
    expiresAt: expiresAtFor(connectedAt, tokenExpiresAt),
  };
  await dynamo.send(
    new PutCommand({ TableName: tableName, Item: { ...connectionKey(connectionId), ...connection } }),
  );
  return connection;
}
