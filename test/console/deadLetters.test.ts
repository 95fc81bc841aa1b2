import { randomBytes } from "node:crypto";
import { ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createSqsClient } from "../listener/support.ts";
import { startTestHttpApi, type TestHttpApi } from "../support/httpApi.ts";

// GET /subscriptions/{name}/dead-letters through the real handler and the local API Gateway adapter, on
// real Postgres and the SQS stand-in, whose redrive policy moves a message to the DLQ for real.
const prefix = `t${randomBytes(3).toString("hex")}-dlq-`;
const sqs = createSqsClient();
let api: TestHttpApi;

beforeAll(async () => {
  api = await startTestHttpApi({
    EVENTBUS_QUEUE_PREFIX: prefix,
    AWS_ENDPOINT_URL_SQS: inject("sqsEndpoint"),
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
  });
});
afterAll(async () => {
  await api.close();
  sqs.destroy();
});

/** A consumer that fails: receives the message and lets it go until SQS moves it to the DLQ. */
async function failUntilDeadLettered(queueUrl: string, body: string, attributes: Record<string, string>) {
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: body,
      MessageAttributes: Object.fromEntries(
        Object.entries(attributes).map(([k, v]) => [k, { DataType: "String", StringValue: v }]),
      ),
    }),
  );
  for (let attempt = 0; attempt < 5; attempt++) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, VisibilityTimeout: 0, WaitTimeSeconds: 0 }),
    );
    if (Messages.length === 0) return;
  }
}

describe("GET /subscriptions/{name}/dead-letters", () => {
  it("shows the DLQ's messages with body, receive count and times, and leaves them for a redrive", async () => {
    const put = await api.request("PUT", "/subscriptions/dead", { body: { maxReceiveCount: 1 } });
    expect(put.status).toBe(201);
    const { queueUrl } = put.body as { queueUrl: string };
    const event = { specversion: "1.0", id: "e-1", type: "Poison", source: "urn:test", data: { n: 1 } };
    const before = Date.now();
    await failUntilDeadLettered(queueUrl, JSON.stringify(event), {
      type: "Poison",
      streamid: "dead-1",
      position: "7",
    });
    const big = JSON.stringify({ ...event, id: "e-2", data: { blob: "é".repeat(6000) } });
    await failUntilDeadLettered(queueUrl, big, { type: "Poison" });
    await expect
      .poll(async () => (await api.request("GET", "/subscriptions/dead")).body.dlqDepth, { timeout: 10_000 })
      .toBe(2);

    const page = await api.request("GET", "/subscriptions/dead/dead-letters");
    expect(page.status).toBe(200);
    expect(page.body.deadLetters).toHaveLength(2);
    const [first, second] = page.body.deadLetters;
    expect(first).toEqual({
      messageId: expect.any(String),
      body: JSON.stringify(event),
      bodyBytes: JSON.stringify(event).length,
      truncated: false,
      // The consumer's failed receive, and this look.
      receiveCount: expect.any(Number),
      firstReceivedAt: expect.any(String),
      sentAt: expect.any(String),
      attributes: { type: "Poison", streamid: "dead-1", position: "7" },
    });
    expect(first.receiveCount).toBeGreaterThanOrEqual(1);
    expect(Date.parse(first.sentAt)).toBeGreaterThanOrEqual(before - 1000);
    // A body above 8 KiB is cut, on a character boundary, and says so.
    expect(second).toMatchObject({ truncated: true, bodyBytes: Buffer.byteLength(big) });
    expect(Buffer.byteLength(second.body)).toBeLessThanOrEqual(8192);
    expect(big.startsWith(second.body)).toBe(true);

    // Looking left them there: the redrive moves both back.
    expect(
      (await api.request("GET", "/subscriptions/dead/dead-letters?limit=1")).body.deadLetters,
    ).toHaveLength(1);
    const redrive = await api.request("POST", "/subscriptions/dead/redrive");
    expect(redrive.body).toMatchObject({ moved: 2 });
    expect((await api.request("GET", "/subscriptions/dead/dead-letters")).body.deadLetters).toEqual([]);
  });

  it("refuses a bad limit, an unknown subscription and a token without the scope", async () => {
    for (const limit of ["0", "51", "x"]) {
      const answer = await api.request("GET", `/subscriptions/dead/dead-letters?limit=${limit}`);
      expect(answer).toMatchObject({ status: 400, body: { code: "VALIDATION_FAILED", parameter: "limit" } });
    }
    const missing = await api.request("GET", "/subscriptions/nope/dead-letters");
    expect(missing).toMatchObject({ status: 404, body: { code: "SUBSCRIPTION_NOT_FOUND" } });
    const reader = await api.token("events:read");
    expect((await api.request("GET", "/subscriptions/dead/dead-letters", { token: reader })).status).toBe(
      403,
    );
  });
});
