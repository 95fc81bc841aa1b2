import { randomBytes } from "node:crypto";
import { GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { CloudFormationCustomResourceEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createSql } from "../../lib/db/client.ts";
import { migrations } from "../../lib/db/migrations/index.ts";
import { findSubscription } from "../../lib/subscriptions/getSubscription.ts";
import { createSqsClient } from "../listener/support.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

// The custom resource handlers run for real: against Postgres and the SQS stand-in, with the environment
// the stack gives them, and with events shaped as the CDK Provider framework delivers them.
const prefix = `t${randomBytes(3).toString("hex")}-cr-`;
let db: TestDatabase;
let sqs: SQSClient;

beforeAll(async () => {
  db = await createTestDatabase();
  Object.assign(process.env, {
    DATABASE_URL: db.url,
    EVENTBUS_JWT_SECRET: "custom-resource-test-secret-0123456789",
    EVENTBUS_QUEUE_PREFIX: prefix,
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

function event(
  requestType: "Create" | "Update" | "Delete",
  properties: Record<string, string>,
  physicalResourceId?: string,
): CloudFormationCustomResourceEvent {
  const base = {
    ServiceToken: "arn:aws:lambda:us-east-1:123456789012:function:provider",
    ResponseURL: "https://example.com/response",
    StackId: "arn:aws:cloudformation:us-east-1:123456789012:stack/EventBus/1",
    RequestId: randomBytes(8).toString("hex"),
    LogicalResourceId: "Resource",
    ResourceType: "Custom::Test",
    ResourceProperties: { ServiceToken: "token", ...properties },
  };
  if (requestType === "Create") return { ...base, RequestType: "Create" };
  if (requestType === "Update") {
    return {
      ...base,
      RequestType: "Update",
      PhysicalResourceId: physicalResourceId!,
      OldResourceProperties: { ServiceToken: "token" },
    };
  }
  return { ...base, RequestType: "Delete", PhysicalResourceId: physicalResourceId! };
}

const queueExists = async (name: string) =>
  sqs.send(new GetQueueUrlCommand({ QueueName: name })).then(
    () => true,
    () => false,
  );

describe("migrations custom resource", () => {
  it("migrates an empty database on Create, does nothing more on Update, and keeps the schema on Delete", async () => {
    const admin = createSql(inject("postgresUrl"), { max: 1 });
    const name = `eventbus_cr_${randomBytes(4).toString("hex")}`;
    await admin.unsafe(`create database ${name}`);
    const url = new URL(inject("postgresUrl"));
    url.pathname = `/${name}`;
    const previous = process.env.DATABASE_URL;
    process.env.DATABASE_URL = url.toString();
    const fresh = createSql(url.toString(), { max: 1 });
    try {
      const { handler } = await import("../../functions/migrate/handler.ts");
      const created = await handler(event("Create", {}));
      expect(created).toEqual({
        PhysicalResourceId: "eventbus-migrations",
        Data: { Applied: migrations.map((m) => m.id).join(",") },
      });
      const updated = await handler(event("Update", {}, created.PhysicalResourceId));
      expect(updated).toEqual({ PhysicalResourceId: "eventbus-migrations", Data: { Applied: "" } });
      await handler(event("Delete", {}, created.PhysicalResourceId));
      const [row] = await fresh`select count(*)::int as n from eventbus.migrations`;
      expect(row!.n).toBe(migrations.length);
    } finally {
      process.env.DATABASE_URL = previous;
      await fresh.end();
      await admin.end();
    }
  });
});

describe("subscription registration custom resource", () => {
  const definition = (visibilityTimeout: number) =>
    JSON.stringify({
      filter: { type: ["OrderPlaced"] },
      startFrom: "origin",
      ordering: "none",
      maxReceiveCount: 3,
      visibilityTimeout,
    });

  it("creates the subscription with its queue and DLQ exactly as PUT /subscriptions/{name} does", async () => {
    const { handler } = await import("../../functions/registerSubscription/handler.ts");
    const result = await handler(event("Create", { Name: "billing", Definition: definition(45) }));
    expect(result.PhysicalResourceId).toBe("billing");
    expect(result.Data?.QueueUrl).toContain(`${prefix}billing`);

    const subscription = await findSubscription(db.sql, "billing");
    expect(subscription).toMatchObject({
      filter: { type: ["OrderPlaced"] },
      maxReceiveCount: 3,
      visibilityTimeout: 45,
    });
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: subscription!.queueUrl, AttributeNames: ["RedrivePolicy"] }),
    );
    expect(JSON.parse(Attributes!.RedrivePolicy!).maxReceiveCount).toBe(3);
    expect(await queueExists(`${prefix}billing-dlq`)).toBe(true);

    // A redeploy with the same definition is a no-op.
    const again = await handler(event("Update", { Name: "billing", Definition: definition(45) }, "billing"));
    expect(again.PhysicalResourceId).toBe("billing");
  });

  it("fails a deployment that changes a definition, as the API answers 409", async () => {
    const { handler } = await import("../../functions/registerSubscription/handler.ts");
    await expect(
      handler(event("Update", { Name: "billing", Definition: definition(90) }, "billing")),
    ).rejects.toThrow(/^SUBSCRIPTION_CONFLICT: /);
    expect((await findSubscription(db.sql, "billing"))?.visibilityTimeout).toBe(45);
  });

  it("rejects an invalid definition before touching anything", async () => {
    const { handler } = await import("../../functions/registerSubscription/handler.ts");
    await expect(
      handler(event("Create", { Name: "broken", Definition: JSON.stringify({ ordering: "sorted" }) })),
    ).rejects.toThrow();
    expect(await findSubscription(db.sql, "broken")).toBeUndefined();
    expect(await queueExists(`${prefix}broken`)).toBe(false);
  });

  it("deletes the subscription and its queues on Delete, and tolerates one that never registered", async () => {
    const { handler } = await import("../../functions/registerSubscription/handler.ts");
    await handler(event("Delete", { Name: "billing", Definition: definition(45) }, "billing"));
    expect(await findSubscription(db.sql, "billing")).toBeUndefined();
    expect(await queueExists(`${prefix}billing`)).toBe(false);
    // A Create that failed leaves CloudFormation with a resource to delete that has no subscription.
    await expect(handler(event("Delete", { Name: "ghost", Definition: "{}" }, "ghost"))).resolves.toEqual({
      PhysicalResourceId: "ghost",
    });
  });

  it("keeps the subscription on Delete when retainOnDelete is set", async () => {
    const { handler } = await import("../../functions/registerSubscription/handler.ts");
    await handler(event("Create", { Name: "kept", Definition: definition(30), RetainOnDelete: "true" }));
    await handler(
      event("Delete", { Name: "kept", Definition: definition(30), RetainOnDelete: "true" }, "kept"),
    );
    expect(await findSubscription(db.sql, "kept")).toBeDefined();
    expect(await queueExists(`${prefix}kept`)).toBe(true);
  });
});

describe("capture registration custom resource", () => {
  it("captures a table declared in CDK as PUT /captures/{name} does, refuses one that cannot be, and drops the slot on Delete", async () => {
    const { handler } = await import("../../functions/registerSubscription/handler.ts");
    await db.sql`create table if not exists public.invoices (id int primary key, amount numeric)`;
    const definition = JSON.stringify({ table: "public.invoices", replicaIdentityFull: true });
    const created = await handler(
      event("Create", { Kind: "capture", Name: "invoices", Definition: definition }),
    );
    expect(created).toEqual({
      PhysicalResourceId: "invoices",
      Data: { Slot: expect.stringMatching(/^eventbus_/) },
    });
    const [row] = await db.sql`select table_name from eventbus.captures where name = 'invoices'`;
    expect(row).toEqual({ table_name: "invoices" });

    await expect(
      handler(
        event("Create", { Kind: "capture", Name: "missing", Definition: JSON.stringify({ table: "nope" }) }),
      ),
    ).rejects.toThrow(/^CAPTURE_NOT_POSSIBLE: Table 'nope' does not exist/);

    await handler(event("Delete", { Kind: "capture", Name: "invoices", Definition: definition }, "invoices"));
    expect(await db.sql`select name from eventbus.captures`).toEqual([]);
    expect(
      await db.sql`select slot_name from pg_replication_slots where database = current_database()`,
    ).toEqual([]);
  });
});
