import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  CaptureNotPossibleError,
  type CloudEvent,
  ConflictError,
  ConnectionGoneError,
  createClient,
  type EventBusClient,
  errorForCode,
  ForbiddenError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  UnauthorizedError,
  UnavailableError,
  UnsupportedMediaTypeError,
  ValidationFailedError,
  WrongExpectedVersionError,
} from "../../lib/client/index.ts";
import { createConsumer } from "../../lib/consumer/createConsumer.ts";
import { type Listener, startListener } from "../../lib/listener/startListener.ts";
import { ExpectEventsError, expectEvents, pattern, runConsumer } from "../../lib/testing/index.ts";
import { createSqsClient, uniquePrefix } from "../listener/support.ts";
import { startTestHttpApi, type TestHttpApi } from "../support/httpApi.ts";

/* The SDK's HTTP client and the test helpers against the real HTTP handlers, Postgres, SQS stand-in and listener. */

const sqs = createSqsClient();
let api: TestHttpApi;
let listener: Listener;
let bus: EventBusClient;

beforeAll(async () => {
  api = await startTestHttpApi({
    AWS_ENDPOINT_URL_SQS: inject("sqsEndpoint"),
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    EVENTBUS_QUEUE_PREFIX: uniquePrefix("sdk"),
  });
  listener = await startListener({
    sql: api.db.sql,
    sqs,
    source: "urn:test",
    listenerId: "sdk-test-listener",
    claimIntervalMs: 200,
    pollIntervalMs: 200,
  });
  bus = createClient({ url: api.baseUrl, token: () => api.token("admin") });
});
afterAll(async () => {
  await listener?.stop();
  await api?.close();
  sqs.destroy();
});

describe("append, read, readAll", () => {
  it("appends with optimistic concurrency and reads the stream back as CloudEvents", async () => {
    const first = await bus.append(
      "sdk-1",
      { type: "OrderPlaced", data: { total: 42 } },
      { expectedVersion: "no_stream" },
    );
    expect(first).toMatchObject({ streamId: "sdk-1", version: 1 });
    const more = await bus.append(
      "sdk-1",
      [
        { type: "OrderPaid", data: { amount: 42 } },
        { type: "OrderShipped", data: {} },
      ],
      { expectedVersion: 1 },
    );
    expect(more.version).toBe(3);

    const page = await bus.read("sdk-1", { limit: 2 });
    expect(page.events.map((e) => e.type)).toEqual(["OrderPlaced", "OrderPaid"]);
    expect(page.events[0]).toMatchObject({ specversion: "1.0", subject: "sdk-1", data: { total: 42 } });
    expect(page.next).toBe(3);
    const types: string[] = [];
    for await (const event of bus.read("sdk-1", { limit: 1 }).events()) types.push(event.type);
    expect(types).toEqual(["OrderPlaced", "OrderPaid", "OrderShipped"]);
    const backward = await bus.read("sdk-1", { direction: "backward", limit: 1 });
    expect(backward.events[0]?.type).toBe("OrderShipped");

    expect(await bus.getStream("sdk-1")).toMatchObject({ streamId: "sdk-1", version: 3 });
  });

  it("walks every page of readAll in global order, with type, category and pattern filters", async () => {
    for (let i = 0; i < 7; i++)
      await bus.append(`walk-${i % 2}`, { type: i % 2 ? "Odd" : "Even", data: { i } });
    const pages: CloudEvent[][] = [];
    for await (const page of bus.readAll({ category: "walk", limit: 3 })) pages.push(page.events);
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    const all = pages.flat();
    expect(all.map((e) => (e.data as { i: number }).i)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const positions = all.map((e) => BigInt(e.position));
    expect(positions).toEqual([...positions].sort((a, b) => (a < b ? -1 : 1)));

    const odd: number[] = [];
    for await (const event of bus.readAll({ category: "walk", type: "Odd" }).events()) {
      odd.push((event.data as { i: number }).i);
    }
    expect(odd).toEqual([1, 3, 5]);
    const big: number[] = [];
    for await (const event of bus
      .readAll({ category: "walk", filter: { data: { i: [{ numeric: [">=", 5] }] } } })
      .events()) {
      big.push((event.data as { i: number }).i);
    }
    expect(big).toEqual([5, 6]);
    const after = await bus.readAll({ after: all[4]!.position, category: "walk" });
    expect(after.events.map((e) => (e.data as { i: number }).i)).toEqual([5, 6]);
  });
});

describe("typed errors", () => {
  it("maps each problem code to its error class with status and detail", async () => {
    await bus.append("err-1", { type: "A" });
    const conflict = await bus
      .append("err-1", { type: "B" }, { expectedVersion: 0 })
      .catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(WrongExpectedVersionError);
    expect(conflict).toMatchObject({ code: "WRONG_EXPECTED_VERSION", status: 409, actualVersion: 1 });
    expect((conflict as WrongExpectedVersionError).detail).toContain("err-1");

    const missing = await bus.getStream("err-nothing").catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toMatchObject({ code: "STREAM_NOT_FOUND", status: 404 });

    const invalid = await bus.append("bad id!", { type: "A" }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(ValidationFailedError);
    expect(invalid).toMatchObject({ code: "VALIDATION_FAILED", status: 400 });

    const badLimit = await bus.read("err-1", { limit: 5000 }).catch((e: unknown) => e);
    expect(badLimit).toBeInstanceOf(ValidationFailedError);

    const anonymous = createClient({ url: api.baseUrl });
    await expect(anonymous.getStream("err-1")).rejects.toBeInstanceOf(UnauthorizedError);
    const reader = createClient({ url: api.baseUrl, token: await api.token("events:read") });
    const refused = await reader.append("err-1", { type: "A" }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ForbiddenError);
    expect(refused).toMatchObject({ code: "FORBIDDEN", status: 403 });

    const unreachable = createClient({ url: "http://127.0.0.1:9", token: "x" });
    const network = await unreachable.getStream("a").catch((e: unknown) => e);
    expect(network).toBeInstanceOf(UnavailableError);
    expect(network).toMatchObject({ code: "NETWORK", status: 0 });
  });

  it("has a class for every code the server sends", async () => {
    const { errorStatus } = await import("../../lib/errors.ts");
    for (const code of Object.keys(errorStatus)) {
      expect(errorForCode(code, 0, "x").constructor.name, code).not.toBe("EventBusClientError");
    }
    expect(errorForCode("METHOD_NOT_ALLOWED", 405, "x")).toBeInstanceOf(MethodNotAllowedError);
    expect(errorForCode("UNSUPPORTED_MEDIA_TYPE", 415, "x")).toBeInstanceOf(UnsupportedMediaTypeError);
    const gone = errorForCode("CONNECTION_GONE", 410, "x", { connectionId: "abc" });
    expect(gone).toBeInstanceOf(ConnectionGoneError);
    expect((gone as ConnectionGoneError).connectionId).toBe("abc");
  });

  it("types answers without a problem document by their status, as API Gateway and proxies send them", async () => {
    // What API Gateway itself answers before the bus's handlers run (throttling, payload limit, no
    // route), and a proxy's HTML error page.
    const answers: Record<string, { status: number; body: string; headers?: Record<string, string> }> = {
      "/401": { status: 401, body: '{"message":"Unauthorized"}' },
      "/403": { status: 403, body: '{"message":"Forbidden"}' },
      "/404": { status: 404, body: '{"message":"Not Found"}' },
      "/413": { status: 413, body: '{"message":"Request Entity Too Large"}' },
      "/429": { status: 429, body: '{"message":"Too Many Requests"}', headers: { "retry-after": "3" } },
      "/429-date": {
        status: 429,
        body: '{"message":"Too Many Requests"}',
        headers: { "retry-after": new Date(Date.now() + 60_000).toUTCString() },
      },
      "/502": { status: 502, body: "<html><body>Bad Gateway</body></html>" },
    };
    const server: Server = createServer((req, res) => {
      const answer = answers[req.url ?? ""] ?? { status: 500, body: "" };
      res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
      res.end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const front = createClient({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        token: "t",
      });
      const fail = (path: string) => front.request("GET", path).catch((e: unknown) => e);
      expect(await fail("/401")).toBeInstanceOf(UnauthorizedError);
      expect(await fail("/403")).toMatchObject({ code: "FORBIDDEN", status: 403 });
      expect(await fail("/403")).toBeInstanceOf(ForbiddenError);
      const missing = await fail("/404");
      expect(missing).toBeInstanceOf(NotFoundError);
      expect(missing).toMatchObject({
        code: "ROUTE_NOT_FOUND",
        detail: "The server answered HTTP 404 (Not Found) without a problem document.",
      });
      expect(await fail("/413")).toBeInstanceOf(PayloadTooLargeError);
      const throttled = await fail("/429");
      expect(throttled).toBeInstanceOf(UnavailableError);
      expect(throttled).toMatchObject({ code: "RATE_LIMITED", status: 429, retryAfterSeconds: 3 });
      const later = (await fail("/429-date")) as UnavailableError;
      expect(later.retryAfterSeconds).toBeGreaterThanOrEqual(58);
      expect(later.retryAfterSeconds).toBeLessThanOrEqual(60);
      expect(await fail("/502")).toMatchObject({ code: "UNAVAILABLE", status: 502 });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("says why a table cannot be captured", async () => {
    const refused = await bus.captures
      .create(`missing_${Date.now()}`, { table: "public.no_such_table" })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CaptureNotPossibleError);
    expect(refused).toMatchObject({ code: "CAPTURE_NOT_POSSIBLE", status: 422 });
    expect(["table_not_found", "logical_replication_disabled"]).toContain(
      (refused as CaptureNotPossibleError).reason,
    );
    await expect(bus.captures.get("no_such_capture")).rejects.toMatchObject({
      code: "CAPTURE_NOT_FOUND",
      status: 404,
    });
  });

  it("asks the token callback again after a 401", async () => {
    let calls = 0;
    const client = createClient({
      url: api.baseUrl,
      token: async () => (++calls === 1 ? "not-a-token" : api.token("admin")),
    });
    await expect(client.append("retry-1", { type: "A" })).resolves.toMatchObject({ version: 1 });
    expect(calls).toBe(2);
  });
});

describe("subscriptions, expectEvents and runConsumer", () => {
  it("creates, lists, replays and deletes a subscription; expectEvents sees what the listener forwards", async () => {
    const created = await bus.subscriptions.create("sdk-audits", {
      filter: { type: ["Audited"] },
      startFrom: "origin",
    });
    expect(created).toMatchObject({ name: "sdk-audits", created: true });
    expect(
      (await bus.subscriptions.create("sdk-audits", { filter: { type: ["Audited"] }, startFrom: "origin" }))
        .created,
    ).toBe(false);
    await expect(
      bus.subscriptions.create("sdk-audits", { filter: { type: ["Other"] } }),
    ).rejects.toBeInstanceOf(ConflictError);
    expect((await bus.subscriptions.list()).map((s) => s.name)).toContain("sdk-audits");

    await bus.append("audit-1", [
      { type: "Audited", data: { n: 1 } },
      { type: "Ignored", data: { n: 2 } },
      { type: "Audited", data: { n: 3 } },
    ]);
    const options = { client: bus, sqs, timeout: 10_000 };
    const [three] = await expectEvents("sdk-audits", { data: { n: 3 } }, options);
    expect(three).toMatchObject({ type: "Audited", subject: "audit-1" });
    // The unmatched event went back to the queue and is still there for the next expectation.
    const [one] = await expectEvents(
      "sdk-audits",
      pattern({ data: { n: [{ numeric: ["<", 2] }] } }),
      options,
    );
    expect(one?.data).toEqual({ n: 1 });

    const failure = await expectEvents("sdk-audits", { type: "Never" }, { ...options, timeout: 1500 }).catch(
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(ExpectEventsError);
    expect((failure as Error).message).toContain('No event matched within 1500 ms:\n  - {"type":"Never"}');
    expect((failure as Error).message).toContain("Received 0 event(s)");

    // Replay from the origin: both Audited events come again.
    await bus.subscriptions.replay("sdk-audits", "origin");
    const again = await expectEvents(
      "sdk-audits",
      [{ data: { n: 1 } }, (e) => (e.data as { n: number }).n === 3],
      options,
    );
    expect(again.map((e) => e.type)).toEqual(["Audited", "Audited"]);

    const status = await bus.subscriptions.get("sdk-audits");
    expect(status).toMatchObject({ name: "sdk-audits", queueDepth: expect.any(Number), ahead: 0 });
    expect(await bus.subscriptions.deadLetters("sdk-audits", { limit: 5 })).toEqual({ deadLetters: [] });
    await expect(bus.subscriptions.deadLetters("sdk-audits", { limit: 51 })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
    await bus.subscriptions.delete("sdk-audits");
    await expect(bus.subscriptions.get("sdk-audits")).rejects.toMatchObject({
      code: "SUBSCRIPTION_NOT_FOUND",
    });
  });

  it("runs a createConsumer handler against the subscription's queue, failures redelivered", async () => {
    await bus.subscriptions.create("sdk-consumer", {
      filter: { type: ["Job"] },
      startFrom: "current",
      visibilityTimeout: 1,
    });
    const handled: number[] = [];
    let failedOnce = false;
    const handler = createConsumer(async (event) => {
      const n = (event.data as { n: number }).n;
      if (n === 2 && !failedOnce) {
        failedOnce = true;
        throw new Error("transient");
      }
      handled.push(n);
    });
    await bus.append(
      "jobs-1",
      [1, 2, 3].map((n) => ({ type: "Job", data: { n } })),
    );
    const consumer = await runConsumer(handler, "sdk-consumer", { client: bus, sqs });
    try {
      const deadline = Date.now() + 60_000;
      while (handled.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await consumer.stop();
    }
    expect(failedOnce).toBe(true);
    expect([...handled].sort()).toEqual([1, 2, 3]);
  }, 90_000);
});
