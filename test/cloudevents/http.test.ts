import { randomBytes } from "node:crypto";
import { CloudEvent, HTTP } from "cloudevents";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestHttpApi, type TestHttpApi } from "../support/httpApi.ts";
import { parseStrict } from "./conformance.ts";

let api: TestHttpApi;
beforeAll(async () => {
  api = await startTestHttpApi();
});
afterAll(() => api.close());

/** POSTs what an SDK emitter produced (headers and body), with the admin token. */
async function post(
  streamId: string,
  message: { headers: Record<string, unknown>; body: unknown },
  query = "",
) {
  const headers: Record<string, string> = { authorization: `Bearer ${await api.token("admin")}` };
  for (const [name, value] of Object.entries(message.headers)) headers[name] = String(value);
  const response = await fetch(`${api.baseUrl}/streams/${streamId}/events${query}`, {
    method: "POST",
    headers,
    body: message.body as string,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

const read = async (streamId: string) => (await api.request("GET", `/streams/${streamId}/events`)).body;

const producerEvent = () =>
  new CloudEvent({
    id: `evt-${Math.random().toString(36).slice(2)}`,
    source: "https://shop.example.com/orders",
    type: "com.example.shop.OrderPlaced",
    subject: "order 17",
    time: "2024-05-01T12:30:00.123Z",
    dataschema: "https://shop.example.com/schemas/order-placed.json",
    data: { orderId: 17, lines: [{ sku: "A-1", qty: 2 }] },
    tenant: "acme",
    attempt: 3,
    replayed: false,
  });

describe("CloudEvents HTTP binding, the SDK as producer", () => {
  it("binary mode: stores the ce-* attributes and the body as data, and reads them back unchanged", async () => {
    const sent = producerEvent();
    const message = HTTP.binary(sent);
    const res = await post("orders-binary", message);
    expect(res.status).toBe(201);

    const [event] = (await read("orders-binary")).events;
    const parsed = parseStrict(event);
    expect(parsed).toMatchObject({
      id: sent.id,
      source: "https://shop.example.com/orders",
      type: "com.example.shop.OrderPlaced",
      subject: "order 17",
      time: message.headers["ce-time"],
      dataschema: "https://shop.example.com/schemas/order-placed.json",
      datacontenttype: message.headers["content-type"],
      data: { orderId: 17, lines: [{ sku: "A-1", qty: 2 }] },
      // The binary binding carries every extension as a header string.
      tenant: "acme",
      attempt: "3",
      replayed: "false",
      streamid: "orders-binary",
      streamversion: 1,
      position: String(res.body.events[0].position),
    });
  });

  it("binary mode: string data the SDK sends unquoted is the string its own receiver reads", async () => {
    for (const data of ["hello", "hello world, 100% sure", "C:\\temp\\x", 'he said "hi"']) {
      const message = HTTP.binary(new CloudEvent({ source: "/s", type: "Text", data }));
      // What the SDK sends: the string as the body, unquoted, under application/json.
      expect(message.body).toBe(data);
      expect(String(message.headers["content-type"])).toMatch(/^application\/json/);
      const res = await post("binary-text", message);
      expect(res.status).toBe(201);
      const events = (await read("binary-text")).events;
      expect(parseStrict(events.at(-1)).data).toBe(data);
    }
    // Where the SDK's receiver can read it back, both agree.
    expect(
      HTTP.toEvent(HTTP.binary(new CloudEvent({ source: "/s", type: "T", data: "hello" }))),
    ).toMatchObject({
      data: "hello",
    });
    // A body that starts like JSON must still be JSON.
    const broken = await post("binary-text", {
      headers: {
        "content-type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": "b-1",
        "ce-source": "/s",
        "ce-type": "T",
      },
      body: '{"a":',
    });
    expect(broken.status).toBe(400);
    expect(broken.body).toMatchObject({ code: "VALIDATION_FAILED" });
  });

  it("binary mode: decodes percent-escapes in header values, and keeps a % that starts none", async () => {
    const cases: Array<[string, string]> = [
      ["100%", "100%"],
      ["%C3%A9t%C3%A9", "été"],
      ["50%-off %zz %4", "50%-off %zz %4"],
      ["%FF%C3%A9", "%FFé"],
      ["a%20b%25c", "a b%c"],
    ];
    for (const [i, [header, value]] of cases.entries()) {
      const res = await post("binary-percent", {
        headers: {
          "content-type": "application/json",
          "ce-specversion": "1.0",
          "ce-id": `p-${i}`,
          "ce-source": "/s",
          "ce-type": "T",
          "ce-note": header,
        },
        body: "{}",
      });
      expect(res.status, header).toBe(201);
      const events = (await read("binary-percent")).events;
      expect(parseStrict(events.at(-1)).note, header).toBe(value);
    }
    // The SDK sends extension values as they are: a producer's `100%` arrives and is kept.
    const sdk = HTTP.binary(new CloudEvent({ source: "/s", type: "T", note: "100%", data: {} }));
    expect((await post("binary-percent", sdk)).status).toBe(201);
    expect((await read("binary-percent")).events.at(-1).note).toBe("100%");
  });

  it("structured mode: keeps every producer attribute with its JSON type", async () => {
    const sent = producerEvent();
    expect((await post("orders-structured", HTTP.structured(sent))).status).toBe(201);
    const [event] = (await read("orders-structured")).events;
    expect(parseStrict(event)).toMatchObject({
      id: sent.id,
      source: sent.source,
      subject: "order 17",
      time: "2024-05-01T12:30:00.123Z",
      dataschema: sent.dataschema,
      tenant: "acme",
      attempt: 3,
      replayed: false,
      streamid: "orders-structured",
    });
    expect(event.position).toMatch(/^[1-9][0-9]*$/);
  });

  it("batch mode: appends every event in order, and GET /events parses as a strict batch", async () => {
    const batch = [producerEvent(), producerEvent(), producerEvent()];
    const res = await post("orders-batch", {
      headers: { "content-type": "application/cloudevents-batch+json" },
      body: JSON.stringify(batch),
    });
    expect(res.status).toBe(201);
    expect(res.body.events.map((e: { id: string }) => e.id)).toEqual(batch.map((e) => e.id));

    const all = await api.request("GET", "/events?category=orders&limit=1000");
    // HTTP.toEvent validates each member of a batch strictly.
    const parsed = HTTP.toEvent({
      headers: { "content-type": "application/cloudevents-batch+json" },
      body: JSON.stringify(all.body.events),
    }) as CloudEvent<unknown>[];
    const mine = parsed.filter((e) => e.streamid === "orders-batch");
    expect(mine.map((e) => e.id)).toEqual(batch.map((e) => e.id));
    expect(mine.map((e) => e.streamversion)).toEqual([1, 2, 3]);
    for (const event of all.body.events) parseStrict(event);
  });

  it("batch mode: an empty batch (valid JSON batch format) stores nothing and still checks the expected version", async () => {
    const empty = { headers: { "content-type": "application/cloudevents-batch+json" }, body: "[]" };
    // The SDK's own receiver reads it as no event.
    expect(HTTP.toEvent(empty)).toEqual([]);
    expect(await post("orders-empty", empty)).toMatchObject({
      status: 200,
      body: { streamId: "orders-empty", version: 0, events: [] },
    });
    expect(
      (await post("orders-empty", { headers: empty.headers, body: JSON.stringify([producerEvent()]) }))
        .status,
    ).toBe(201);
    expect(await post("orders-empty", empty, "?expectedVersion=1")).toMatchObject({
      status: 200,
      body: { version: 1 },
    });
    const stale = await post("orders-empty", empty, "?expectedVersion=no_stream");
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe("WRONG_EXPECTED_VERSION");
    expect((await read("orders-empty")).events).toHaveLength(1);
    // A plain JSON append still names at least one event.
    const plain = await post("orders-empty", { headers: { "content-type": "application/json" }, body: "[]" });
    expect(plain.status).toBe(400);
  });

  it("reads a CloudEvents batch when asked with Accept, the next page in a Link header", async () => {
    const batch = [producerEvent(), producerEvent(), producerEvent()];
    expect(
      (
        await post("orders-accept", {
          headers: { "content-type": "application/cloudevents-batch+json" },
          body: JSON.stringify(batch),
        })
      ).status,
    ).toBe(201);
    const get = async (url: string, accept: string) =>
      fetch(new URL(url, api.baseUrl), {
        headers: { authorization: `Bearer ${await api.token("admin")}`, accept },
      });
    const accept = "application/cloudevents-batch+json";
    const first = await get("/streams/orders-accept/events?limit=2", accept);
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toBe(accept);
    // What an SDK receiver does with a batch response: every member parsed strictly.
    const page1 = HTTP.toEvent({
      headers: { "content-type": first.headers.get("content-type")! },
      body: await first.text(),
    }) as CloudEvent<unknown>[];
    expect(page1.map((e) => e.id)).toEqual(batch.slice(0, 2).map((e) => e.id));
    const link = first.headers.get("link")!;
    expect(link).toMatch(/^<events\?(.*&)?from=3(&.*)?>; rel="next"$/);
    const nextUrl = new URL(link.slice(1, link.indexOf(">")), first.url);
    const second = await get(nextUrl.toString(), accept);
    const page2 = JSON.parse(await second.text()) as Record<string, unknown>[];
    expect(page2.map((e) => parseStrict(e).id)).toEqual([batch[2]!.id]);
    expect(second.headers.get("link")).toBeNull();

    // GET /events too, with its filters kept in the link.
    const all = await get("/events?category=orders&limit=1", `application/json;q=0.5, ${accept}`);
    expect(all.headers.get("content-type")).toBe(accept);
    expect(Array.isArray(JSON.parse(await all.text()))).toBe(true);
    expect(all.headers.get("link")).toMatch(/^<events\?category=orders&limit=1&after=\d+>; rel="next"$/);
    // Anything else gets the usual page.
    for (const other of ["application/json", "*/*", `${accept};q=0.1, application/json`]) {
      const res = await get("/streams/orders-accept/events", other);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(JSON.parse(await res.text())).toMatchObject({ streamId: "orders-accept", next: null });
    }
  });

  it("fills in source, subject, time and datacontenttype only when the producer left them out", async () => {
    const before = Date.now();
    const res = await api.request("POST", "/streams/plain-1/events", {
      body: {
        type: "Plain",
        data: { a: 1 },
        // `constructor` is a valid extension name like any other.
        metadata: { tenant: "acme", attempt: 2, sampled: true, constructor: "c" },
      },
    });
    expect(res.status).toBe(201);
    const [event] = (await read("plain-1")).events;
    expect(parseStrict(event)).toMatchObject({
      source: "urn:eventbus",
      subject: "plain-1",
      datacontenttype: "application/json",
      tenant: "acme",
      attempt: 2,
      sampled: true,
      constructor: "c",
    });
    expect(event).not.toHaveProperty("metadata");
    expect(Date.parse(event.time)).toBeGreaterThanOrEqual(before - 5_000);
  });
});

describe("identity: source + id", () => {
  const ce = (source: string) => ({
    specversion: "1.0",
    id: "same-id",
    source,
    type: "T",
    data: { source },
  });
  const structured = (body: unknown) => ({
    contentType: "application/cloudevents+json",
    body,
  });

  it("re-sending the same source and id is an idempotent success; another source is another event", async () => {
    const first = await api.request("POST", "/streams/ident-1/events", structured(ce("urn:a")));
    expect(first.status).toBe(201);
    const again = await api.request("POST", "/streams/ident-1/events", structured(ce("urn:a")));
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);

    const other = await api.request("POST", "/streams/ident-1/events", structured(ce("urn:b")));
    expect(other.status).toBe(201);
    expect(other.body.version).toBe(2);
    // A plain-JSON event has the bus's identity: a third event with that id.
    const plain = await api.request("POST", "/streams/ident-1/events", {
      body: { id: "same-id", type: "T" },
    });
    expect(plain.body.version).toBe(3);

    const events = (await read("ident-1")).events;
    expect(events.map((e: { id: string; source: string }) => [e.id, e.source])).toEqual([
      ["same-id", "urn:a"],
      ["same-id", "urn:b"],
      ["same-id", "urn:eventbus"],
    ]);
  });

  it("stores one event when the same source and id arrive concurrently", async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        api.request("POST", "/streams/ident-3/events", structured(ce("urn:a"))),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(201));
    expect(new Set(results.map((r) => r.body.events[0].position)).size).toBe(1);
    expect((await read("ident-3")).events).toHaveLength(1);
  });

  it("takes any non-empty string up to 1024 bytes as a CloudEvent's id; plain-JSON ids stay printable ASCII", async () => {
    const ids = ["order 17 / paid", "été ✓ 🎉", "tab\tand\nnewline", "x".repeat(1000), "é".repeat(512)];
    const res = await api.request("POST", "/streams/ident-any/events", {
      contentType: "application/cloudevents-batch+json",
      body: ids.map((id) => new CloudEvent({ id, source: "urn:a", type: "T", data: { id } })),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const events = (await read("ident-any")).events.map((e: Record<string, unknown>) => parseStrict(e));
    expect(events.map((e: CloudEvent<unknown>) => e.id)).toEqual(ids);
    // Binary mode: a space in ce-id.
    const binary = HTTP.binary(new CloudEvent({ id: "with space", source: "/s", type: "T", data: {} }));
    expect((await post("ident-any", binary)).status).toBe(201);
    // Idempotent like any other id.
    const again = await api.request("POST", "/streams/ident-any/events", {
      contentType: "application/cloudevents+json",
      body: new CloudEvent({ id: ids[1], source: "urn:a", type: "T", data: { id: ids[1] } }),
    });
    expect(again.status).toBe(201);
    expect(again.body.events[0].version).toBe(2);

    // The longest stream id, source and id together fit the unique index (random text: no compression).
    const random = (n: number) => randomBytes(n).toString("base64url").slice(0, n);
    const longest = {
      specversion: "1.0",
      id: random(1024),
      source: `urn:${random(1020)}`,
      type: "T",
    };
    const streamId = `l${random(199).replace(/[^A-Za-z0-9]/g, "a")}`;
    const stored = await api.request("POST", `/streams/${streamId}/events`, {
      contentType: "application/cloudevents+json",
      body: longest,
    });
    expect(stored.status, JSON.stringify(stored.body)).toBe(201);
    expect(parseStrict((await read(streamId)).events[0]).id).toBe(longest.id);

    const refused = async (id: string, body: Record<string, unknown>, contentType: string) => {
      const r = await api.request("POST", "/streams/ident-any/events", {
        contentType,
        body: { ...body, id },
      });
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({
        code: "VALIDATION_FAILED",
        pointer: expect.stringMatching(/^(\/0)?\/id$/),
      });
      return r.body.detail as string;
    };
    const ce = { specversion: "1.0", source: "urn:a", type: "T" };
    const structured = "application/cloudevents+json";
    expect(await refused("é".repeat(513), ce, structured)).toMatch(
      /at most 1024 bytes in UTF-8 \(it is 1026\)/,
    );
    expect(await refused("a\u0000", ce, structured)).toMatch(/U\+0000/);
    expect(await refused("", ce, structured)).toMatch(/non-empty/);
    // Without a source, the id is also the readable FIFO deduplication id, which SQS limits.
    expect(await refused("order 17", { type: "T" }, "application/json")).toMatch(/printable ASCII/);
  });

  it("refuses the same source and id twice in one batch", async () => {
    const res = await api.request("POST", "/streams/ident-2/events", {
      contentType: "application/cloudevents-batch+json",
      body: [ce("urn:a"), ce("urn:b"), ce("urn:a")],
    });
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/\/2\/id 'same-id' appears twice in this batch with the same source/);
  });
});

describe("refusals name the attribute and the rule", () => {
  const base = { specversion: "1.0", id: "r-1", source: "/orders", type: "T" };
  it.each([
    ["an upper-case extension name", { traceId: "x" }, "/0/traceId", /not a valid attribute name/],
    ["a 21-character name", { abcdefghijklmnopqrstu: "x" }, "/0/abcdefghijklmnopqrstu", /1-20/],
    ["an object extension", { ext: { a: 1 } }, "/0/ext", /scalars/],
    ["a fractional extension", { ext: 1.5 }, "/0/ext", /32-bit/],
    ["an extension beyond 32 bits", { ext: 2 ** 31 }, "/0/ext", /32-bit/],
    ["a bus attribute", { position: "1" }, "/0/position", /set by the bus/],
    ["a time that is not RFC 3339", { time: "yesterday" }, "/0/time", /RFC 3339/],
    ["a day that does not exist", { time: "2023-02-29T10:00:00Z" }, "/0/time", /no day 29 in month 02/],
    ["a leap second", { time: "2016-12-31T23:59:60Z" }, "/0/time", /not a time of day/],
    ["a source with a space", { source: "my source" }, "/0/source", /URI-reference/],
    ["a relative dataschema", { dataschema: "schemas/x" }, "/0/dataschema", /absolute URI/],
    ["an empty subject", { subject: "" }, "/0/subject", /non-empty/],
  ])("refuses %s with 400", async (_name, change, pointer, rule) => {
    const res = await api.request("POST", "/streams/refused-1/events", {
      contentType: "application/cloudevents+json",
      body: { ...base, ...change },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: "VALIDATION_FAILED", pointer });
    expect(res.body.detail).toMatch(rule);
  });

  it.each([
    ["a key that is not an extension name", { traceId: "x" }, "/0/metadata/traceId", /attribute name/],
    ["a context attribute", { subject: "x" }, "/0/metadata/subject", /context attribute/],
    ["a nested value", { trace: { id: 1 } }, "/0/metadata/trace", /scalars/],
  ])("refuses plain-JSON metadata with %s", async (_name, metadata, pointer, rule) => {
    const res = await api.request("POST", "/streams/refused-1/events", { body: { type: "T", metadata } });
    expect(res.status).toBe(400);
    expect(res.body.pointer).toBe(pointer);
    expect(res.body.detail).toMatch(rule);
  });

  it("refuses non-JSON data with 415, in binary and structured mode", async () => {
    const text = await post("refused-1", {
      headers: {
        "content-type": "text/plain",
        "ce-specversion": "1.0",
        "ce-id": "t-1",
        "ce-source": "/s",
        "ce-type": "T",
      },
      body: "hello",
    });
    expect(text.status).toBe(415);
    expect(text.body).toMatchObject({ code: "UNSUPPORTED_MEDIA_TYPE" });
    expect(text.body.detail).toMatch(/Content-Type 'text\/plain' is not JSON/);
    const base64 = await api.request("POST", "/streams/refused-1/events", {
      contentType: "application/cloudevents+json",
      body: { ...base, data_base64: "aGVsbG8=" },
    });
    expect(base64.status).toBe(415);
    expect(base64.body.detail).toMatch(/data_base64/);
    expect((await api.request("GET", "/streams/refused-1/events")).status).toBe(404);
  });
});
