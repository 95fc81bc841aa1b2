import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConsumer } from "../../lib/consumer/createConsumer.ts";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { recordSentEntries, useListenerHarness } from "../listener/support.ts";
import { startTestHttpApi, type TestHttpApi } from "../support/httpApi.ts";

const harness = useListenerHarness("trace");
// What the listener puts on the wire: the SQS stand-in accepts MessageSystemAttributes but does not keep
// them, so the test reads the SendMessageBatch requests the real SDK client sends.
const sentEntries = recordSentEntries(harness.sqs);
let api: TestHttpApi;
beforeAll(async () => {
  api = await startTestHttpApi();
});
afterAll(async () => {
  await api.close();
});

const TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const PRODUCER_TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

async function postWithTrace(streamId: string, body: unknown, headers: Record<string, string>) {
  const response = await fetch(`${api.baseUrl}/streams/${streamId}/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${await api.token("admin")}`, ...headers },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(201);
}

describe("trace context", () => {
  it("stamps the request's traceparent on events that carry none, and keeps a producer's own", async () => {
    await postWithTrace(
      "traced-1",
      { type: "Traced", data: { n: 1 }, metadata: { tenant: "a" } },
      { "content-type": "application/json", traceparent: TRACE },
    );
    await postWithTrace(
      "traced-1",
      { specversion: "1.0", id: "p-1", source: "urn:producer", type: "Traced", traceparent: PRODUCER_TRACE },
      { "content-type": "application/cloudevents+json", traceparent: TRACE },
    );
    await postWithTrace("traced-1", { type: "Untraced" }, { "content-type": "application/json" });
    const read = await api.request("GET", "/streams/traced-1/events");
    expect(
      read.body.events.map((e: { traceparent?: string; tenant?: string }) => [e.traceparent, e.tenant]),
    ).toEqual([
      [TRACE, "a"],
      [PRODUCER_TRACE, undefined],
      [undefined, undefined],
    ]);
  });

  it("continues the trace into SQS as the AWSTraceHeader system attribute", async () => {
    const subscription = await harness.subscribe("traced", { filter: { type: ["TracedSqs"] } });
    await appendToStream(harness.db.sql, "traced-2", [
      { type: "TracedSqs", attributes: { traceparent: TRACE } },
      { type: "TracedSqs" },
    ]);
    const deadline = Date.now() + 15_000;
    const ours = () => sentEntries.filter((e) => e.MessageBody?.includes('"streamid":"traced-2"'));
    while (ours().length < 2 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(
      ours().map((e) => [
        (JSON.parse(e.MessageBody!) as { traceparent?: string }).traceparent,
        e.MessageSystemAttributes?.AWSTraceHeader?.StringValue,
      ]),
    ).toEqual([
      [TRACE, "Root=1-0af76519-16cd43dd8448eb211c80319c;Parent=b7ad6b7169203331;Sampled=1"],
      [undefined, undefined],
    ]);
    // And the queue accepted them.
    const { Messages = [] } = await harness.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: subscription.queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
      }),
    );
    expect(Messages.length).toBeGreaterThan(0);
  });

  it("hands a consumer the event's trace, so its own work continues it", async () => {
    const seen: unknown[] = [];
    const handler = createConsumer(async (_event, context) => {
      seen.push(context.trace);
    });
    const record = (body: unknown, messageId: string) => ({
      messageId,
      receiptHandle: messageId,
      body: JSON.stringify(body),
      attributes: { ApproximateReceiveCount: "1" },
      messageAttributes: {},
      md5OfBody: "",
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:traced",
      awsRegion: "us-east-1",
    });
    const result = await handler(
      {
        Records: [
          record({ specversion: "1.0", id: "a", type: "T", traceparent: TRACE }, "1"),
          record({ specversion: "1.0", id: "b", type: "T" }, "2"),
        ],
      } as never,
      { getRemainingTimeInMillis: () => 10_000 } as never,
    );
    expect(result).toEqual({ batchItemFailures: [] });
    expect(seen).toEqual([
      {
        context: { traceId: "0af7651916cd43dd8448eb211c80319c", parentId: "b7ad6b7169203331", sampled: true },
        traceparent: TRACE,
        xrayHeader: "Root=1-0af76519-16cd43dd8448eb211c80319c;Parent=b7ad6b7169203331;Sampled=1",
      },
      undefined,
    ]);
  });
});
