import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { RealtimeTable } from "../realtime/table.ts";

/** A WebSocket connection as the console shows it: who, since when, and which topics. */
export interface ConnectionView {
  connectionId: string;
  subject: string;
  connectedAt: string;
  tokenExpiresAt: string | null;
  topics: string[];
}

export interface ConnectionPage {
  connections: ConnectionView[];
  /** Opaque cursor for the next page, or `null` on the last one. */
  next: string | null;
}

/**
 * Connections of the realtime table, a page at a time. An admin listing only: it scans the table (filtering
 * to the connection items), so its cost grows with the table; the fan-out never calls it. Each connection
 * item carries its topics as a set, so one page answers "who is connected to what".
 */
export async function listConnections(
  table: RealtimeTable,
  options: { limit: number; cursor?: string },
): Promise<ConnectionPage> {
  const connections: ConnectionView[] = [];
  let startKey: Record<string, unknown> | undefined = options.cursor
    ? decodeCursor(options.cursor)
    : undefined;
  // A filtered scan page can come back empty while more items remain; read on until the page fills.
  do {
    const page = await table.dynamo.send(
      new ScanCommand({
        TableName: table.tableName,
        FilterExpression: "sk = :meta and begins_with(pk, :conn)",
        ExpressionAttributeValues: { ":meta": "meta", ":conn": "conn#" },
        Limit: 200,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    for (const item of page.Items ?? []) {
      connections.push({
        connectionId: String(item.connectionId ?? String(item.pk).slice(5)),
        subject: String(item.subject ?? ""),
        connectedAt: new Date(Number(item.connectedAt ?? 0)).toISOString(),
        tokenExpiresAt: item.tokenExpiresAt
          ? new Date(Number(item.tokenExpiresAt) * 1000).toISOString()
          : null,
        topics: item.topics instanceof Set ? [...item.topics].map(String).sort() : [],
      });
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey && connections.length < options.limit);
  return { connections, next: startKey ? encodeCursor(startKey) : null };
}

const encodeCursor = (key: Record<string, unknown>) => Buffer.from(JSON.stringify(key)).toString("base64url");

function decodeCursor(cursor: string): Record<string, unknown> | undefined {
  try {
    const key = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (
      typeof key === "object" &&
      key !== null &&
      typeof (key as { pk?: unknown }).pk === "string" &&
      typeof (key as { sk?: unknown }).sk === "string"
    ) {
      return { pk: (key as { pk: string }).pk, sk: (key as { sk: string }).sk };
    }
  } catch {
    // falls through: an unreadable cursor
  }
  return undefined;
}

/** Is this a cursor `listConnections` handed out? */
export const isConnectionCursor = (cursor: string): boolean => decodeCursor(cursor) !== undefined;
