import { randomBytes } from "node:crypto";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { createSql, type Sql } from "../../lib/db/client.ts";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { listenerSqlOptions, startListener } from "../../lib/listener/startListener.ts";
import { createSubscription } from "../../lib/subscriptions/createSubscription.ts";
import { parseSubscriptionDefinition } from "../../lib/subscriptions/definition.ts";
import { createSqsClient } from "../listener/support.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

// The scheduled metrics function, for real: Postgres, the SQS stand-in and the listener; what it writes
// to stdout is what CloudWatch would turn into the metrics the alarms in infra/monitoring.ts query.
const prefix = `t${randomBytes(3).toString("hex")}-metrics-`;
let db: TestDatabase;
let sqs: SQSClient;

beforeAll(async () => {
  db = await createTestDatabase();
  Object.assign(process.env, {
    DATABASE_URL: db.url,
    EVENTBUS_JWT_SECRET: "metrics-test-secret-0123456789abcdef",
    EVENTBUS_QUEUE_PREFIX: prefix,
    EVENTBUS_NAME: "test-bus",
    AWS_ENDPOINT_URL_SQS: inject("sqsEndpoint"),
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
  });
  sqs = createSqsClient();
});
afterAll(async () => {
  sqs.destroy();
  const { getRuntime } = await import("../../functions/shared/runtime.ts");
  await (await getRuntime()).sql.end({ timeout: 5 });
  await db.close();
});

/** Runs the handler and returns the EMF records it printed, by subscription. */
async function publishMetrics(): Promise<Map<string, any>> {
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
  const records = lines.flatMap((line) => line.split("\n").filter(Boolean)).map((line) => JSON.parse(line));
  return new Map(records.map((r) => [r.Subscription, r]));
}

describe("subscription metrics", () => {
  it("reports lag and a missing owner while no listener runs, then zero lag and the owner once one does", async () => {
    await createSubscription(db.sql, sqs, {
      name: "audit",
      definition: parseSubscriptionDefinition({}),
      queuePrefix: prefix,
    });
    await appendToStream(
      db.sql,
      "orders-1",
      [1, 2, 3].map((n) => ({ type: "OrderPlaced", data: { n } })),
    );

    const before = (await publishMetrics()).get("audit");
    expect(before).toMatchObject({
      Bus: "test-bus",
      SubscriptionLag: 3,
      // The oldest unforwarded event was appended moments ago.
      SubscriptionLagSeconds: expect.any(Number),
      SubscriptionOwned: 0,
      SubscriptionQueueDepth: 0,
      SubscriptionDeadLetters: 0,
      SubscriptionParked: 0,
      SubscriptionFailing: 0,
    });
    // Valid EMF: the names the alarms query, in the namespace and dimensions they query.
    expect(before._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: "EventBus",
        Dimensions: [["Bus", "Subscription"]],
        Metrics: [
          { Name: "SubscriptionLag", Unit: "Count" },
          { Name: "SubscriptionLagSeconds", Unit: "Seconds" },
          { Name: "SubscriptionQueueDepth", Unit: "Count" },
          { Name: "SubscriptionDeadLetters", Unit: "Count" },
          { Name: "SubscriptionParked", Unit: "Count" },
          { Name: "SubscriptionOwned", Unit: "Count" },
          { Name: "SubscriptionFailing", Unit: "Count" },
        ],
      },
    ]);
    expect(before.SubscriptionLagSeconds).toBeGreaterThan(0);
    expect(before.SubscriptionLagSeconds).toBeLessThan(30);
    expect(Math.abs(before._aws.Timestamp - Date.now())).toBeLessThan(60_000);

    const listenerSql: Sql = createSql(db.url, { max: 4, ...listenerSqlOptions });
    const listener = await startListener({
      sql: listenerSql,
      sqs,
      source: "urn:test",
      listenerId: "metrics-test",
      claimIntervalMs: 100,
      pollIntervalMs: 200,
    });
    try {
      let after: any;
      for (let attempt = 0; attempt < 100; attempt++) {
        after = (await publishMetrics()).get("audit");
        if (
          after.SubscriptionLag === 0 &&
          after.SubscriptionOwned === 1 &&
          after.SubscriptionQueueDepth === 3
        )
          break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(after).toMatchObject({
        SubscriptionLag: 0,
        SubscriptionLagSeconds: 0,
        SubscriptionOwned: 1,
        SubscriptionQueueDepth: 3,
      });
    } finally {
      await listener.stop();
      await listenerSql.end({ timeout: 5 });
    }
  });
});
