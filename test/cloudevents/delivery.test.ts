import { randomBytes } from "node:crypto";
import { CloudEvent, HTTP } from "cloudevents";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { receiveEvents } from "../listener/support.ts";
import { type RealtimeHarness, startRealtimeHarness } from "../realtime/support.ts";
import { parseStrict } from "./conformance.ts";

let bus: RealtimeHarness;
beforeAll(async () => {
  bus = await startRealtimeHarness();
});
afterAll(() => bus?.close());

const unique = (label: string) => `${label}-${randomBytes(3).toString("hex")}`;

const producerEvent = (data: unknown = { orderId: 17, lines: [{ sku: "A-1" }, { sku: "B-2" }] }) =>
  new CloudEvent({
    id: unique("evt"),
    source: "https://shop.example.com/orders",
    type: "com.example.shop.OrderPlaced",
    subject: "order 17",
    time: "2024-05-01T12:30:00.123Z",
    dataschema: "https://shop.example.com/schemas/order-placed.json",
    data,
    tenant: "acme",
    attempt: 3,
  });

async function postStructured(streamId: string, events: CloudEvent<unknown>[]) {
  const res = await bus.api.request("POST", `/streams/${streamId}/events`, {
    contentType: "application/cloudevents-batch+json",
    rawBody: JSON.stringify(events),
  });
  expect(res.status).toBe(201);
  return res.body;
}

/** Creates a subscription through the HTTP API; `body` is the `PUT /subscriptions/{name}` body. */
async function subscribe(body: Record<string, unknown>) {
  const name = unique("ce");
  const res = await bus.api.request("PUT", `/subscriptions/${name}`, {
    body: { startFrom: "current", ...body },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { name, queueUrl: res.body.queueUrl as string };
}

/** Raw SQS bodies as a consumer receives them, with their message attributes. */
async function receiveBodies(queueUrl: string, count: number) {
  const { ReceiveMessageCommand, DeleteMessageBatchCommand } = await import("@aws-sdk/client-sqs");
  const bodies: Array<{ body: string; attributes: Record<string, string | undefined> }> = [];
  const deadline = Date.now() + 15_000;
  while (bodies.length < count && Date.now() < deadline) {
    const { Messages = [] } = await bus.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageAttributeNames: ["All"],
      }),
    );
    for (const m of Messages) {
      bodies.push({
        body: m.Body!,
        attributes: Object.fromEntries(
          Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue]),
        ),
      });
    }
    if (Messages.length > 0) {
      await bus.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
  }
  return bodies;
}

describe("what the bus emits parses with the official SDK in strict mode", () => {
  it("SQS bodies of a real subscription: the producer's attributes unchanged, the bus's as scalars", async () => {
    const { queueUrl } = await subscribe({ filter: { streamid: [{ prefix: "ce-sqs-" }] } });
    const streamId = unique("ce-sqs");
    const sent = [producerEvent(), producerEvent({ note: "\u{1F600} \uFFFF" })];
    const appended = await postStructured(streamId, sent);
    await bus.api.request("POST", `/streams/${streamId}/events`, {
      body: { type: "Plain", data: null, metadata: { tenant: "acme", sampled: true } },
    });

    const received = await receiveEvents(bus.sqs, queueUrl, 3);
    expect(received).toHaveLength(3);
    const parsed = received.map((r) => parseStrict(r.event as never));
    for (const [i, event] of sent.entries()) {
      expect(parsed[i]).toMatchObject({
        id: event.id,
        source: event.source,
        subject: "order 17",
        time: "2024-05-01T12:30:00.123Z",
        dataschema: event.dataschema,
        data: event.data,
        tenant: "acme",
        attempt: 3,
        streamid: streamId,
        streamversion: i + 1,
        position: String(appended.events[i].position),
      });
      expect(received[i]!.attributes).toMatchObject({
        type: event.type,
        streamid: streamId,
        position: String(appended.events[i].position),
      });
    }
    expect(parsed[2]).toMatchObject({
      source: "urn:eventbus",
      subject: streamId,
      tenant: "acme",
      sampled: true,
    });
  });

  it("WebSocket events frames", async () => {
    const client = await bus.connect();
    const streamId = unique("ce-ws");
    expect(await client.request({ action: "subscribe", topic: `stream:${streamId}` })).toMatchObject({
      type: "ack",
    });
    const sent = producerEvent();
    const message = HTTP.binary(sent);
    const res = await fetch(`${bus.api.baseUrl}/streams/${streamId}/events`, {
      method: "POST",
      headers: {
        ...Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, String(v)])),
        authorization: `Bearer ${await bus.token("admin")}`,
      },
      body: message.body as string,
    });
    expect(res.status).toBe(201);
    const frame = await client.next((f) => f.type === "events", 10_000);
    const [event] = frame.events.map((e: Record<string, unknown>) => parseStrict(e));
    expect(event).toMatchObject({
      id: sent.id,
      source: sent.source,
      subject: "order 17",
      tenant: "acme",
      attempt: "3",
      streamid: streamId,
      streamversion: 1,
    });
    expect(typeof event.position).toBe("string");

    // The history a `from` subscription gets first is the same CloudEvent.
    const late = await bus.connect();
    expect(
      await late.request({ action: "subscribe", topic: `stream:${streamId}`, from: Number(event.position) }),
    ).toMatchObject({ type: "ack" });
    const history = await late.next((f) => f.type === "events", 10_000);
    expect(history.events.map((e: Record<string, unknown>) => parseStrict(e))).toEqual([event]);
  });
});

describe("identity on an ordered (FIFO) subscription", () => {
  it("delivers the same id from two sources as two events: the deduplication id is the identity", async () => {
    const { queueUrl } = await subscribe({
      ordering: "stream",
      filter: { streamid: [{ prefix: "fifo-id-" }] },
    });
    const streamId = unique("fifo-id");
    const event = (source: string) => ({
      specversion: "1.0",
      id: "same",
      source,
      type: "T",
      data: { source },
    });
    for (const source of ["urn:a", "urn:b"]) {
      const res = await bus.api.request("POST", `/streams/${streamId}/events`, {
        contentType: "application/cloudevents+json",
        body: event(source),
      });
      expect(res.status).toBe(201);
    }
    const received = await receiveEvents(bus.sqs, queueUrl, 2, { settleMs: 500 });
    expect(received.map((r) => [r.event.id, r.event.source])).toEqual([
      ["same", "urn:a"],
      ["same", "urn:b"],
    ]);
  });
});

describe("ids that are not printable ASCII", () => {
  it("reach an ordered (FIFO) subscription and a WebSocket subscriber unchanged", async () => {
    const { queueUrl } = await subscribe({
      ordering: "stream",
      filter: { streamid: [{ prefix: "any-id-" }] },
    });
    const client = await bus.connect();
    const streamId = unique("any-id");
    expect(await client.request({ action: "subscribe", topic: `stream:${streamId}` })).toMatchObject({
      type: "ack",
    });
    const ids = ["order 17 / paid", "été ✓ 🎉", "x".repeat(1000)];
    await postStructured(
      streamId,
      ids.map((id) => new CloudEvent({ id, source: "urn:a", type: "T", data: {} })),
    );
    const received = await receiveEvents(bus.sqs, queueUrl, 3, { settleMs: 500 });
    expect(received.map((r) => parseStrict(r.event as never).id)).toEqual(ids);
    const frame = await client.next((f) => f.type === "events", 10_000);
    expect(frame.events.map((e: Record<string, unknown>) => parseStrict(e).id)).toEqual(ids);
  });
});

describe("input transformers on a real subscription", () => {
  const orderPaths = {
    order: "$.data.orderId",
    tenant: "$.tenant",
    first: "$.data.lines[0].sku",
    skus: "$.data.lines[*].sku",
    missing: "$.data.nope",
  };

  it("a JSON template: values quoted or as JSON, missing ones null, the whole event where asked", async () => {
    const { name, queueUrl } = await subscribe({
      filter: { streamid: [{ prefix: "tx-json-" }] },
      inputTransformer: {
        inputPathsMap: orderPaths,
        inputTemplate:
          '{"order": <order>, "text": "order <order> for <tenant>, \\"<first>\\"", "skus": <skus>, ' +
          '"missing": <missing>, "quotedMissing": "<missing>", "by": "<aws.events.rule-name>", ' +
          '"event": <aws.events.event.json>, "envelope": <aws.events.event>}',
      },
    });
    const streamId = unique("tx-json");
    const sent = producerEvent();
    await postStructured(streamId, [sent]);
    const [message] = await receiveBodies(queueUrl, 1);
    const body = JSON.parse(message!.body);
    expect(body).toMatchObject({
      order: 17,
      text: 'order 17 for acme, "A-1"',
      skus: ["A-1", "B-2"],
      missing: null,
      quotedMissing: "",
      by: name,
    });
    parseStrict(body.event);
    expect(body.event).toMatchObject({ id: sent.id, data: sent.data, streamid: streamId });
    expect(body.envelope).not.toHaveProperty("data");
    expect(body.envelope).toMatchObject({ id: sent.id, tenant: "acme" });
    // The message attributes stay, whatever the body.
    expect(message!.attributes).toMatchObject({ type: sent.type, streamid: streamId });
  });

  it("a text template: values inserted as text", async () => {
    const { queueUrl } = await subscribe({
      filter: { streamid: [{ prefix: "tx-text-" }] },
      inputTransformer: {
        inputPathsMap: orderPaths,
        inputTemplate: "Order <order> (<skus>) placed for <tenant><missing>.",
      },
    });
    await postStructured(unique("tx-text"), [producerEvent()]);
    const [message] = await receiveBodies(queueUrl, 1);
    expect(message!.body).toBe('Order 17 (["A-1","B-2"]) placed for acme.');
  });

  it("parks a transformed body too big for SQS, with the reason, and moves on", async () => {
    const { name, queueUrl } = await subscribe({
      filter: { streamid: [{ prefix: "tx-big-" }] },
      inputTransformer: { inputTemplate: `[${Array(300).fill("<aws.events.event.json>").join(",")}]` },
    });
    const streamId = unique("tx-big");
    await postStructured(streamId, [
      producerEvent({ blob: "x".repeat(60_000) }),
      producerEvent({ small: true }),
    ]);
    const [message] = await receiveBodies(queueUrl, 1);
    const small = JSON.parse(message!.body);
    expect(small).toHaveLength(300);
    expect(small[0].data).toEqual({ small: true });
    await expect
      .poll(async () => (await bus.api.request("GET", `/subscriptions/${name}`)).body, { timeout: 10_000 })
      .toMatchObject({ parked: 1, lastParkedReason: expect.any(String) });
  });

  it('format "raw": only the data', async () => {
    const { queueUrl } = await subscribe({ filter: { streamid: [{ prefix: "tx-raw-" }] }, format: "raw" });
    const sent = producerEvent({ total: 42.5, note: "\u{1F600}" });
    await postStructured(unique("tx-raw"), [sent]);
    const [message] = await receiveBodies(queueUrl, 1);
    expect(JSON.parse(message!.body)).toEqual({ total: 42.5, note: "\u{1F600}" });
  });

  it("takes part in the identical-or-conflict rule", async () => {
    const body = {
      inputTransformer: { inputPathsMap: { a: "$.data.a", b: "$.id" }, inputTemplate: "<a> <b>" },
    };
    const name = unique("tx-same");
    expect((await bus.api.request("PUT", `/subscriptions/${name}`, { body })).status).toBe(201);
    const reordered = {
      inputTransformer: { inputTemplate: "<a> <b>", inputPathsMap: { b: "$.id", a: "$.data.a" } },
    };
    const same = await bus.api.request("PUT", `/subscriptions/${name}`, { body: reordered });
    expect(same.status).toBe(200);
    expect(same.body.inputTransformer).toEqual(body.inputTransformer);
    const other = await bus.api.request("PUT", `/subscriptions/${name}`, {
      body: { inputTransformer: { ...body.inputTransformer, inputTemplate: "<b> <a>" } },
    });
    expect(other.body).toMatchObject({ status: 409, code: "SUBSCRIPTION_CONFLICT" });
    const raw = await bus.api.request("PUT", `/subscriptions/${name}`, { body: { format: "raw" } });
    expect(raw.status).toBe(409);
  });

  const paths = (n: number) =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, `$.data.k${i}`]));
  it.each([
    [
      "101 paths",
      { inputPathsMap: paths(101), inputTemplate: "x" },
      "/inputTransformer/inputPathsMap",
      /101 keys; the limit is 100/,
    ],
    [
      "a template over 8192 characters",
      { inputTemplate: "x".repeat(8193) },
      "/inputTransformer/inputTemplate",
      /1-8192/,
    ],
    [
      "a path without $",
      { inputPathsMap: { a: "data.a" }, inputTemplate: "<a>" },
      "/inputTransformer/inputPathsMap/a",
      /JSON path/,
    ],
    [
      "a filter expression",
      { inputPathsMap: { a: "$.data[?(@.x)]" }, inputTemplate: "<a>" },
      "/inputTransformer/inputPathsMap/a",
      /JSON path/,
    ],
    [
      "a key with a dot",
      { inputPathsMap: { "a.b": "$.id" }, inputTemplate: "x" },
      "/inputTransformer/inputPathsMap/a.b",
      /valid key/,
    ],
    [
      "an unknown placeholder",
      { inputTemplate: "hello <who>" },
      "/inputTransformer/inputTemplate",
      /<who>, which is neither/,
    ],
    ["a rule ARN", { inputTemplate: "<aws.events.rule-arn>" }, "/inputTransformer/inputTemplate", /no ARN/],
    [
      "a placeholder as a key",
      { inputPathsMap: { k: "$.id" }, inputTemplate: '{"<k>": 1}' },
      "/inputTransformer/inputTemplate",
      /object key/,
    ],
    [
      "broken JSON",
      { inputPathsMap: { k: "$.id" }, inputTemplate: '{"a": <k>,}' },
      "/inputTransformer/inputTemplate",
      /not valid JSON/,
    ],
    [
      "the whole event in quotes",
      { inputTemplate: '{"e": "<aws.events.event.json>"}' },
      "/inputTransformer/inputTemplate",
      /outside quotes/,
    ],
    [
      "the whole event in text",
      { inputTemplate: "event: <aws.events.event>" },
      "/inputTransformer/inputTemplate",
      /JSON template/,
    ],
    ["an unknown member", { inputTemplate: "x", inputPaths: {} }, "/inputTransformer", /inputPaths/],
  ])("refuses %s with 400 naming the member", async (_name, inputTransformer, pointer, rule) => {
    const name = unique("tx-bad");
    const res = await bus.api.request("PUT", `/subscriptions/${name}`, { body: { inputTransformer } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_FAILED");
    expect(res.body.pointer ?? res.body.errors?.[0]?.pointer).toBe(pointer);
    expect(res.body.detail).toMatch(rule);
    expect((await bus.api.request("GET", `/subscriptions/${name}`)).status).toBe(404);
  });

  it('refuses format "raw" with an input transformer', async () => {
    const res = await bus.api.request("PUT", `/subscriptions/${unique("tx-bad")}`, {
      body: { format: "raw", inputTransformer: { inputTemplate: "x" } },
    });
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/"raw" and \/inputTransformer exclude each other/);
  });
});
