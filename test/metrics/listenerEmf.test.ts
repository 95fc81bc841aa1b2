import { SetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { startProcessMetrics } from "../../lib/metrics/processMetrics.ts";
import { MetricsRegistry } from "../../lib/metrics/registry.ts";
import { createSubscription } from "../../lib/subscriptions/createSubscription.ts";
import { parseSubscriptionDefinition } from "../../lib/subscriptions/definition.ts";
import { createSqsClient, spawnListener, uniquePrefix } from "../listener/support.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

/** The EMF records among a process's output lines, each checked against the EMF specification. */
function emfRecords(output: string): Array<Record<string, unknown>> {
  const records: Array<Record<string, unknown>> = [];
  for (const line of output.split("\n")) {
    if (!line.includes('"_aws"')) continue;
    const record = JSON.parse(line) as Record<string, unknown> & {
      _aws: {
        Timestamp: unknown;
        CloudWatchMetrics: Array<{
          Namespace: string;
          Dimensions: string[][];
          Metrics: Array<{ Name: string }>;
        }>;
      };
    };
    expect(Number.isInteger(record._aws.Timestamp)).toBe(true);
    for (const directive of record._aws.CloudWatchMetrics) {
      expect(directive.Namespace).toBe("EventBus");
      // Every dimension and every metric a directive names is a member of the record.
      for (const name of directive.Dimensions.flat()) expect(typeof record[name]).toBe("string");
      for (const { Name } of directive.Metrics) {
        const value = record[Name];
        expect(typeof value === "number" || (Array.isArray(value) && value.length > 0)).toBe(true);
      }
    }
    records.push(record);
  }
  return records;
}

const sqs = createSqsClient();
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.close();
  sqs.destroy();
});

describe("listener metrics on AWS", () => {
  it("writes a park to stdout as CloudWatch EMF, the subscription a dimension", async () => {
    const { subscription } = await createSubscription(db.sql, sqs, {
      name: "emf-poison",
      definition: parseSubscriptionDefinition({ filter: { type: ["Big"] } }),
      queuePrefix: uniquePrefix("emf"),
    });
    // A real SQS refusal: the queue takes nothing above 1 KiB, and the event is 2 KiB.
    await sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: subscription.queueUrl,
        Attributes: { MaximumMessageSize: "1024" },
      }),
    );
    const listener = spawnListener({ DATABASE_URL: db.url, EVENTBUS_NAME: "emf-bus" });
    try {
      await listener.ready;
      await appendToStream(db.sql, "emf-1", [{ type: "Big", data: { blob: "x".repeat(2048) } }]);
      await expect
        .poll(() => emfRecords(listener.output()).find((record) => "ParkedEvents" in record), {
          timeout: 20_000,
        })
        .toMatchObject({
          ParkedEvents: 1,
          Bus: "emf-bus",
          Subscription: "emf-poison",
          _aws: {
            CloudWatchMetrics: [
              {
                Namespace: "EventBus",
                Dimensions: [expect.arrayContaining(["Bus", "Subscription"])],
                Metrics: [{ Name: "ParkedEvents", Unit: "Count" }],
              },
            ],
          },
        });
    } finally {
      await listener.terminate();
    }
  });
});

it("flushes unlabelled figures once per interval, and what is pending when stopped", async () => {
  const registry = new MetricsRegistry();
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    const emf = startProcessMetrics(registry, { bus: "b", serviceName: "eventbus-listener", intervalMs: 50 });
    registry.observe("eventbus_fanout_duration_seconds", {}, 0.012);
    registry.observe("eventbus_fanout_duration_seconds", {}, 0.02);
    await expect.poll(() => emfRecords(lines.join("")).length).toBe(1);
    registry.count("eventbus_appends_total");
    emf.stop();
    registry.count("eventbus_appends_total"); // after stop: not published
    await new Promise((resolve) => setTimeout(resolve, 120));
  } finally {
    process.stdout.write = write;
  }
  const records = emfRecords(lines.join(""));
  expect(records.map((r) => [r.FanoutLatency, r.Appends])).toEqual([
    [[12, 20], undefined],
    [undefined, 1],
  ]);
});
