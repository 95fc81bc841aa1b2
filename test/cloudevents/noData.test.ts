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

/** Posts an HTTP message (as the SDK's `HTTP.binary`/`HTTP.structured` make them) to a stream. */
async function post(streamId: string, message: { headers: Record<string, unknown>; body?: unknown }) {
  const res = await fetch(`${bus.api.baseUrl}/streams/${streamId}/events`, {
    method: "POST",
    headers: {
      ...Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, String(v)])),
      authorization: `Bearer ${await bus.token("admin")}`,
    },
    ...(message.body === undefined ? {} : { body: message.body as string }),
  });
  expect(res.status, await res.clone().text()).toBe(201);
}

/**
 * The same two events (a `T.none` without data, then a `T.null` with `data: null`) sent in each way a
 * producer can: plain JSON, and the official SDK's structured and binary modes.
 */
async function appendBoth(streamId: string, mode: "json" | "structured" | "binary") {
  for (const [type, withData] of [
    ["T.none", false],
    ["T.null", true],
  ] as const) {
    if (mode === "json") {
      await post(streamId, {
        headers: { "content-type": "application/json" },
        body: JSON.stringify(withData ? { type, data: null } : { type }),
      });
      continue;
    }
    const event = new CloudEvent<unknown>({
      id: unique("evt"),
      source: "urn:producer",
      type,
      ...(withData ? { data: null } : {}),
    });
    await post(streamId, mode === "structured" ? HTTP.structured(event) : HTTP.binary(event));
  }
}

/** Checks the two events as they left the bus: raw JSON objects, then parsed by the SDK in strict mode. */
function expectNoneThenNull(emitted: Array<Record<string, unknown>>) {
  expect(emitted.map((e) => e.type)).toEqual(["T.none", "T.null"]);
  const [none, nul] = emitted as [Record<string, unknown>, Record<string, unknown>];
  expect(none).not.toHaveProperty("data");
  expect(none).not.toHaveProperty("datacontenttype");
  expect(nul).toHaveProperty("data", null);
  // The bus's default, or in binary mode the Content-Type the SDK sent (application/json; charset=utf-8).
  expect(nul.datacontenttype).toMatch(/^application\/json(; charset=utf-8)?$/);
  const [parsedNone, parsedNull] = emitted.map((e) => parseStrict(e));
  expect(parsedNone!.data).toBeUndefined();
  expect(JSON.parse(JSON.stringify(parsedNone))).not.toHaveProperty("data");
  expect(parsedNull!.data).toBeNull();
}

describe.each(["json", "structured", "binary"] as const)("sent without data, in %s mode", (mode) => {
  it("leaves without data in HTTP reads, SQS bodies and WebSocket frames; data: null stays null", async () => {
    const prefix = `nodata-${mode}-`;
    const streamId = unique(`nodata-${mode}`);
    const put = await bus.api.request("PUT", `/subscriptions/${unique("nodata")}`, {
      body: { startFrom: "current", filter: { streamid: [{ prefix }] } },
    });
    expect(put.status).toBe(201);
    const client = await bus.connect();
    expect(await client.request({ action: "subscribe", topic: `stream:${streamId}` })).toMatchObject({
      type: "ack",
    });

    await appendBoth(streamId, mode);

    const read = await bus.api.request("GET", `/streams/${streamId}/events`);
    expectNoneThenNull(read.body.events);
    const backward = await bus.api.request("GET", `/streams/${streamId}/events?direction=backward`);
    expectNoneThenNull(backward.body.events.toReversed());
    const all = await bus.api.request("GET", `/events?category=nodata&limit=1000`);
    expectNoneThenNull(all.body.events.filter((e: { streamid: string }) => e.streamid === streamId));
    // A CloudEvents batch response, read by the SDK's receiver.
    const batch = await fetch(`${bus.api.baseUrl}/streams/${streamId}/events`, {
      headers: {
        authorization: `Bearer ${await bus.token("admin")}`,
        accept: "application/cloudevents-batch+json",
      },
    });
    const text = await batch.text();
    expectNoneThenNull(JSON.parse(text));
    const received = HTTP.toEvent({
      headers: { "content-type": batch.headers.get("content-type")! },
      body: text,
    }) as CloudEvent<unknown>[];
    expect(received.map((e) => e.data)).toEqual([undefined, null]);

    const messages = await receiveEvents(bus.sqs, put.body.queueUrl, 2);
    expectNoneThenNull(messages.map((m) => m.event as Record<string, unknown>));

    const live: Array<Record<string, unknown>> = [];
    while (live.length < 2) live.push(...(await client.next((f) => f.type === "events", 10_000)).events);
    expectNoneThenNull(live);
    // The history a `from` subscription gets first is the same.
    const late = await bus.connect();
    expect(
      await late.request({
        action: "subscribe",
        topic: `stream:${streamId}`,
        from: Number(live[0]!.position),
      }),
    ).toMatchObject({ type: "ack" });
    expectNoneThenNull((await late.next((f) => f.type === "events", 10_000)).events);
  });
});

describe("patterns follow the emitted CloudEvent: no data is not data: null", () => {
  it("on subscriptions, WebSocket filters and GET /events", async () => {
    const prefix = unique("nodata-pattern");
    const absent = { streamid: [{ prefix }], data: [{ exists: false }] };
    const present = { streamid: [{ prefix }], data: [{ exists: true }] };
    const isNull = { streamid: [{ prefix }], data: [null] };
    const noContentType = { streamid: [{ prefix }], datacontenttype: [{ exists: false }] };
    const subscriptions = await Promise.all(
      [absent, present, isNull, noContentType].map(async (filter) => {
        const res = await bus.api.request("PUT", `/subscriptions/${unique("nodata-p")}`, {
          body: { startFrom: "current", filter },
        });
        expect(res.status).toBe(201);
        return res.body.queueUrl as string;
      }),
    );
    const client = await bus.connect();
    expect(
      await client.request({ action: "subscribe", topic: "category:nodata", filter: absent }),
    ).toMatchObject({ type: "ack" });

    await appendBoth(`${prefix}-1`, "json");

    const types = async (queueUrl: string) =>
      (await receiveEvents(bus.sqs, queueUrl, 1, { settleMs: 1500 })).map((m) => m.event.type);
    const [withoutData, withData, nullData, withoutContentType] = await Promise.all(subscriptions.map(types));
    expect(withoutData).toEqual(["T.none"]);
    expect(withData).toEqual(["T.null"]);
    expect(nullData).toEqual(["T.null"]);
    expect(withoutContentType).toEqual(["T.none"]);

    const frame = await client.next((f) => f.type === "events", 10_000);
    expect(frame.events.map((e: { type: string }) => e.type)).toEqual(["T.none"]);

    for (const [filter, expected] of [
      [absent, ["T.none"]],
      [present, ["T.null"]],
      [isNull, ["T.null"]],
    ] as const) {
      const res = await bus.api.request(
        "GET",
        `/events?limit=1000&filter=${encodeURIComponent(JSON.stringify(filter))}`,
      );
      expect(res.status).toBe(200);
      expect(res.body.events.map((e: { type: string }) => e.type)).toEqual(expected);
    }
  });
});

describe("input transformers see the event as emitted", () => {
  it("a path into missing data is missing; the whole event has no data member", async () => {
    const prefix = unique("nodata-tx");
    const put = await bus.api.request("PUT", `/subscriptions/${unique("nodata-tx")}`, {
      body: {
        startFrom: "current",
        filter: { streamid: [{ prefix }] },
        inputTransformer: {
          inputPathsMap: { data: "$.data", type: "$.type" },
          inputTemplate: '{"type": <type>, "data": <data>, "event": <aws.events.event.json>}',
        },
      },
    });
    expect(put.status).toBe(201);
    await appendBoth(`${prefix}-1`, "json");
    const { ReceiveMessageCommand } = await import("@aws-sdk/client-sqs");
    const bodies: Array<Record<string, any>> = [];
    const deadline = Date.now() + 15_000;
    while (bodies.length < 2 && Date.now() < deadline) {
      const { Messages = [] } = await bus.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: put.body.queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
        }),
      );
      bodies.push(...Messages.map((m) => JSON.parse(m.Body!)));
    }
    expect(bodies.map((b) => [b.type, b.data])).toEqual([
      ["T.none", null],
      ["T.null", null],
    ]);
    expectNoneThenNull(bodies.map((b) => b.event));
  });
});
