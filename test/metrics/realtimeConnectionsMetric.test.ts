import { randomBytes } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { putConnection } from "../../lib/realtime/putConnection.ts";
import { putMembership } from "../../lib/realtime/putMembership.ts";
import { createRealtimeTable } from "../../lib/realtime/table.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

// The scheduled metrics function against Postgres and the DynamoDB stand-in: what it prints is what
// CloudWatch turns into the RealtimeConnections metric the dashboard's realtime widget shows.
const tableName = `t${randomBytes(3).toString("hex")}-realtime`;
const raw = new DynamoDBClient({
  endpoint: inject("dynamoEndpoint"),
  region: "us-east-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});
const table = { dynamo: DynamoDBDocumentClient.from(raw), tableName };
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  await createRealtimeTable(raw, tableName);
  Object.assign(process.env, {
    DATABASE_URL: db.url,
    EVENTBUS_JWT_SECRET: "connections-metric-secret-0123456789",
    EVENTBUS_NAME: "rt-bus",
    EVENTBUS_REALTIME_TABLE: tableName,
    AWS_ENDPOINT_URL_SQS: inject("sqsEndpoint"),
    AWS_ENDPOINT_URL_DYNAMODB: inject("dynamoEndpoint"),
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
  });
});
afterAll(async () => {
  const { getRuntime } = await import("../../functions/shared/runtime.ts");
  await (await getRuntime()).sql.end({ timeout: 5 });
  await db.close();
  raw.destroy();
});

async function publishedRecords(): Promise<Array<Record<string, any>>> {
  const { handler } = await import("../../functions/metrics/publishSubscriptionMetrics.ts");
  const lines: string[] = [];
  const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    await handler();
  } finally {
    write.mockRestore();
  }
  return lines.flatMap((chunk) => chunk.split("\n").filter(Boolean)).map((line) => JSON.parse(line));
}

describe("RealtimeConnections on AWS", () => {
  it("is published every minute by the metrics function, counting connections and nothing else", async () => {
    const principal = { subject: "user", scopes: ["realtime:subscribe"], expiresAt: Date.now() / 1000 + 600 };
    for (let i = 0; i < 25; i++) {
      await putConnection(table, `conn-${i}`, principal as never);
      // Topic memberships share the table; they are not connections.
      await putMembership(table, {
        connectionId: `conn-${i}`,
        topic: "room:lobby",
        expiresAt: Date.now() / 1000 + 600,
      });
    }
    const records = await publishedRecords();
    const bus = records.find((record) => "RealtimeConnections" in record);
    expect(bus).toEqual({
      _aws: {
        Timestamp: expect.any(Number),
        CloudWatchMetrics: [
          {
            Namespace: "EventBus",
            Dimensions: [["Bus"]],
            Metrics: [{ Name: "RealtimeConnections", Unit: "Count" }],
          },
        ],
      },
      Bus: "rt-bus",
      RealtimeConnections: 25,
    });
  });
});
