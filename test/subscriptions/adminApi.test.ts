import { GetQueueUrlCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { type Listener, startListener } from "../../lib/listener/startListener.ts";
import { createSqsClient, receiveEvents, uniquePrefix } from "../listener/support.ts";
import { startTestHttpApi, type TestHttpApi } from "../support/httpApi.ts";

const sqs = createSqsClient();
const prefix = uniquePrefix("admin");
let api: TestHttpApi;
let listener: Listener;

beforeAll(async () => {
  api = await startTestHttpApi({
    AWS_ENDPOINT_URL_SQS: inject("sqsEndpoint"),
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    EVENTBUS_QUEUE_PREFIX: prefix,
  });
  listener = await startListener({
    sql: api.db.sql,
    sqs,
    source: "urn:test",
    listenerId: "test-listener",
    claimIntervalMs: 200,
  });
});
afterAll(async () => {
  await listener.stop();
  await api.close();
  sqs.destroy();
});

describe("PUT /subscriptions/{name}", () => {
  it("creates the subscription with its queue and DLQ, is idempotent, and refuses a different definition", async () => {
    const body = { filter: { type: ["A"], data: { n: [1] } }, ordering: "stream", maxReceiveCount: 3 };
    const created = await api.request("PUT", "/subscriptions/ordered", { body });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: "ordered",
      ordering: "stream",
      maxReceiveCount: 3,
      visibilityTimeout: 30,
      startFrom: "origin",
      checkpoint: 0,
    });
    expect(created.body.queueUrl).toMatch(new RegExp(`${prefix}ordered\\.fifo$`));
    expect(created.body.dlqUrl).toMatch(new RegExp(`${prefix}ordered-dlq\\.fifo$`));

    // Same definition, keys in another order: a no-op.
    const again = await api.request("PUT", "/subscriptions/ordered", {
      body: { maxReceiveCount: 3, ordering: "stream", filter: { data: { n: [1] }, type: ["A"] } },
    });
    expect(again.status).toBe(200);
    expect(again.body.queueUrl).toBe(created.body.queueUrl);

    const different = await api.request("PUT", "/subscriptions/ordered", {
      body: { ...body, maxReceiveCount: 4 },
    });
    expect(different.status).toBe(409);
    expect(different.body.code).toBe("SUBSCRIPTION_CONFLICT");
    expect(different.headers.get("content-type")).toBe("application/problem+json");
  });

  it.each([
    ["a name with invalid characters", "/subscriptions/bad%20name", {}],
    ["a name too long for SQS", `/subscriptions/${"x".repeat(65)}`, {}],
    ["the reserved name 'realtime'", "/subscriptions/realtime", {}],
    ["an unknown member", "/subscriptions/s1", { filters: {} }],
    ["an unknown filter operator", "/subscriptions/s1", { filter: { type: [{ regex: "x" }] } }],
    ["an empty filter leaf", "/subscriptions/s1", { filter: { type: [] } }],
    ["a malformed numeric filter", "/subscriptions/s1", { filter: { n: [{ numeric: ["!", 1] }] } }],
    ["a bad startFrom", "/subscriptions/s1", { startFrom: "yesterday" }],
    ["a bad ordering", "/subscriptions/s1", { ordering: "global" }],
    ["a zero maxReceiveCount", "/subscriptions/s1", { maxReceiveCount: 0 }],
  ])("answers 400 VALIDATION_FAILED for %s", async (_, path, body) => {
    const response = await api.request("PUT", path, { body });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe("VALIDATION_FAILED");
    expect(response.body.detail).toEqual(expect.any(String));
  });

  it("answers 400 for a body that is not JSON and 415 for another media type", async () => {
    const bad = await api.request("PUT", "/subscriptions/s1", { rawBody: "{nope" });
    expect(bad.status).toBe(400);
    const media = await api.request("PUT", "/subscriptions/s1", { rawBody: "x", contentType: "text/plain" });
    expect(media.status).toBe(415);
  });

  it("requires the subscriptions:manage scope on a token not bounded to some streams", async () => {
    expect((await api.request("GET", "/subscriptions", { token: null })).status).toBe(401);
    const reader = await api.token("events:read");
    expect((await api.request("GET", "/subscriptions", { token: reader })).status).toBe(403);
    const bounded = await api.token("subscriptions:manage", ["orders-*"]);
    expect((await api.request("PUT", "/subscriptions/s1", { token: bounded, body: {} })).status).toBe(403);
    const manager = await api.token("subscriptions:manage");
    expect((await api.request("GET", "/subscriptions", { token: manager })).status).toBe(200);
  });
});

describe("GET, replay, DELETE", () => {
  it("shows live checkpoint, head, lag, queue depth and owner; replays; deletes with the queues", async () => {
    await appendToStream(api.db.sql, "audit-1", [
      { type: "Checked", data: { i: 1 } },
      { type: "Checked", data: { i: 2 } },
      { type: "Skipped", data: { i: 3 } },
    ]);
    const put = await api.request("PUT", "/subscriptions/audits", {
      body: { filter: { type: ["Checked"] } },
    });
    expect(put.status).toBe(201);

    await expect
      .poll(async () => (await api.request("GET", "/subscriptions/audits")).body, { timeout: 10_000 })
      .toMatchObject({ owner: "test-listener", lag: 0, queueDepth: 2, dlqDepth: 0 });
    const status = (await api.request("GET", "/subscriptions/audits")).body;
    expect(status.checkpoint).toBe(status.head);
    expect(status.head).toBeGreaterThanOrEqual(3);

    const list = await api.request("GET", "/subscriptions");
    expect(list.status).toBe(200);
    expect(list.body.subscriptions.map((s: { name: string }) => s.name)).toContain("audits");

    const first = await receiveEvents(sqs, status.queueUrl, 2);
    expect(first.map((r) => r.event.data)).toEqual([{ i: 1 }, { i: 2 }]);

    const replay = await api.request("POST", "/subscriptions/audits/replay", { body: { from: "origin" } });
    expect(replay).toMatchObject({ status: 200, body: { name: "audits", checkpoint: 0 } });
    const again = await receiveEvents(sqs, status.queueUrl, 2, { settleMs: 300 });
    expect(again.map((r) => r.event.data)).toEqual([{ i: 1 }, { i: 2 }]);

    expect((await api.request("POST", "/subscriptions/audits/replay", { body: { from: -1 } })).status).toBe(
      400,
    );

    // A numeric `from` is inclusive: that position is the first delivered again.
    const second = Number(first[1]!.event.position);
    const fromSecond = await api.request("POST", "/subscriptions/audits/replay", { body: { from: second } });
    expect(fromSecond.body.checkpoint).toBe(second - 1);
    const tail = await receiveEvents(sqs, status.queueUrl, 1, { settleMs: 300 });
    expect(tail.map((r) => r.event.data)).toEqual([{ i: 2 }]);

    const deleted = await api.request("DELETE", "/subscriptions/audits");
    expect(deleted.status).toBe(204);
    expect((await api.request("GET", "/subscriptions/audits")).status).toBe(404);
    await expect(sqs.send(new GetQueueUrlCommand({ QueueName: `${prefix}audits` }))).rejects.toThrow();
    await expect(sqs.send(new GetQueueUrlCommand({ QueueName: `${prefix}audits-dlq` }))).rejects.toThrow();
  });

  it.each([
    ["GET", "/subscriptions/missing"],
    ["DELETE", "/subscriptions/missing"],
    ["POST", "/subscriptions/missing/replay"],
    ["POST", "/subscriptions/missing/redrive"],
  ])("%s %s answers 404 SUBSCRIPTION_NOT_FOUND", async (method, path) => {
    const response = await api.request(method, path, method === "POST" ? { body: { from: 0 } } : {});
    expect(response.status).toBe(404);
    expect(response.body.code).toBe("SUBSCRIPTION_NOT_FOUND");
  });
});

describe("dead-letter queue", () => {
  it("moves a message to the DLQ after maxReceiveCount receives, and redrive brings it back", async () => {
    const put = await api.request("PUT", "/subscriptions/poison", {
      body: { filter: { type: ["Poison"] }, maxReceiveCount: 2, visibilityTimeout: 1, startFrom: "current" },
    });
    expect(put.status).toBe(201);
    await appendToStream(api.db.sql, "poison-1", [{ type: "Poison", data: { bad: true } }]);
    const { queueUrl } = put.body;

    // A consumer that keeps failing: receives, never deletes.
    let receives = 0;
    await expect
      .poll(
        async () => {
          const { Messages = [] } = await sqs.send(
            new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 10 }),
          );
          receives += Messages.length;
          return (await api.request("GET", "/subscriptions/poison")).body.dlqDepth;
        },
        { timeout: 15_000, interval: 100 },
      )
      .toBe(1);
    expect(receives).toBe(2);

    const redrive = await api.request("POST", "/subscriptions/poison/redrive");
    expect(redrive).toMatchObject({ status: 200, body: { moved: 1, drained: true } });
    const back = await receiveEvents(sqs, queueUrl, 1);
    expect(back.map((r) => r.event.data)).toEqual([{ bad: true }]);
    expect((await api.request("GET", "/subscriptions/poison")).body.dlqDepth).toBe(0);
  });

  it("redrives an ordered subscription's DLQ keeping each message's stream group", async () => {
    const put = await api.request("PUT", "/subscriptions/poison-fifo", {
      body: {
        filter: { type: ["PoisonFifo"] },
        ordering: "stream",
        maxReceiveCount: 1,
        visibilityTimeout: 1,
        startFrom: "current",
      },
    });
    expect(put.status).toBe(201);
    await appendToStream(api.db.sql, "fifo-poison-1", [{ type: "PoisonFifo", data: { n: 1 } }]);
    const { queueUrl } = put.body;
    await expect
      .poll(
        async () => {
          await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1 }));
          return (await api.request("GET", "/subscriptions/poison-fifo")).body.dlqDepth;
        },
        { timeout: 15_000, interval: 100 },
      )
      .toBe(1);
    const redrive = await api.request("POST", "/subscriptions/poison-fifo/redrive");
    expect(redrive).toMatchObject({ status: 200, body: { moved: 1, drained: true } });
    const back = await receiveEvents(sqs, queueUrl, 1);
    expect(back.map((r) => [r.event.data, r.groupId])).toEqual([[{ n: 1 }, "fifo-poison-1"]]);
  });
});
