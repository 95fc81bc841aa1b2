import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { putMembership } from "../../lib/realtime/putMembership.ts";
import { settleSeam, skipOrDeliverAbove } from "../../lib/realtime/seam.ts";
import { createRealtimeTable, type RealtimeTable } from "../../lib/realtime/table.ts";

// The handshake between the subscribe handler and the broadcaster, step by step, against the DynamoDB
// stand-in (the interleavings the WebSocket race test can only hit by chance).
let table: RealtimeTable;
let client: DynamoDBClient;
beforeAll(async () => {
  client = new DynamoDBClient({
    endpoint: inject("dynamoEndpoint"),
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  const tableName = `seam-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  await createRealtimeTable(client, tableName);
  table = { dynamo: DynamoDBDocumentClient.from(client), tableName };
});
afterAll(() => client.destroy());

const member = (connectionId: string) => ({ connectionId, topic: "$all" });
const catchingUp = (connectionId: string) =>
  putMembership(table, { ...member(connectionId), catchingUp: true, expiresAt: 2_000_000_000 });

describe("history/live seam", () => {
  it("makes the handler catch up when the broadcaster skipped events above what it read", async () => {
    await catchingUp("c1");
    expect(await skipOrDeliverAbove(table, member("c1"), 20)).toBeNull(); // skipped: the handler owes 20
    expect(await skipOrDeliverAbove(table, member("c1"), 15)).toBeNull(); // lower: still owed by the handler
    expect(await settleSeam(table, member("c1"), 10)).toBe("behind"); // handler read only up to 10
    expect(await settleSeam(table, member("c1"), 20)).toBe("settled");
    expect(await skipOrDeliverAbove(table, member("c1"), 25)).toBe(20); // a late broadcaster delivers > 20
  });

  it("hands over at once when nothing above the handler's read was skipped", async () => {
    await catchingUp("c2");
    expect(await skipOrDeliverAbove(table, member("c2"), 7)).toBeNull();
    expect(await settleSeam(table, member("c2"), 9)).toBe("settled");
  });

  it("reports a membership removed during the replay as gone", async () => {
    expect(await settleSeam(table, member("never-subscribed"), 1)).toBe("gone");
    expect(await skipOrDeliverAbove(table, member("never-subscribed"), 1)).toBeNull();
  });
});
