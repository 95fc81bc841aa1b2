import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { errorStatus } from "../../lib/errors.ts";
import { type RealtimeHarness, startRealtimeHarness } from "../realtime/support.ts";
import { anyJson, anyText, fuzzRuns, leakIn } from "../support/fuzz.ts";

/**
 * Property-based tests over WebSocket frames (issue 9), through the local API Gateway stand-in and the real
 * route handlers, DynamoDB stand-in, listener and broadcaster: random JSON, non-JSON and binary frames,
 * random actions, topics, filters and `from` values. Every bad frame gets an error frame with a stable code,
 * the connection stays open, nothing leaks, and what is accepted is delivered.
 */
const RUNS = fuzzRuns(200);

interface Received {
  text: string;
  json: any;
}

/** A raw client: keeps every frame as text, so that a frame that is not JSON is seen, not thrown. */
class RawClient {
  readonly frames: Received[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      const text = data.toString();
      let json: any;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      this.frames.push({ text, json });
      for (const wake of this.waiters.splice(0)) wake();
    });
    socket.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const wake of this.waiters.splice(0)) wake();
    });
    socket.on("error", () => {});
  }

  static connect(url: string, token: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`${url}/?token=${encodeURIComponent(token)}`);
      socket.once("open", () => resolve(new RawClient(socket)));
      socket.once("error", reject);
    });
  }

  /** Waits until a frame (at index `from` or later) satisfies `predicate`; `undefined` on timeout or close. */
  async waitFor(
    predicate: (frame: Received) => boolean,
    from = 0,
    timeoutMs = 5000,
  ): Promise<Received | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.slice(from).find(predicate);
      if (found) return found;
      if (this.closed || Date.now() > deadline) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The connection is open and answers a ping. */
  async alive(): Promise<boolean> {
    if (this.closed) return false;
    const id = `alive-${randomBytes(4).toString("hex")}`;
    const mark = this.frames.length;
    this.socket.send(JSON.stringify({ action: "ping", id }));
    return (await this.waitFor((f) => f.json?.id === id && f.json?.type === "pong", mark)) !== undefined;
  }

  close() {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close();
  }
}

/** The contract of a frame the server sends: JSON, a known type, error codes from `lib/errors.ts`, no leaks. */
function frameBreach(frame: Received, echoes: readonly string[] = []): string | undefined {
  if (frame.json === undefined) return `not JSON: ${frame.text.slice(0, 200)}`;
  if (!["ack", "pong", "error", "events", "message"].includes(frame.json.type)) {
    return `unknown frame: ${frame.text.slice(0, 200)}`;
  }
  const leak = leakIn(
    frame.json.type === "events" || frame.json.type === "message" ? "" : frame.text,
    echoes,
  );
  if (leak) return `leaks ${leak}: ${frame.text.slice(0, 300)}`;
  if (frame.json.type !== "error") return undefined;
  const code = frame.json.code as string;
  if (!(code in errorStatus)) return `unknown code ${code}`;
  if (errorStatus[code as keyof typeof errorStatus] >= 500)
    return `server error code ${code}: ${frame.text.slice(0, 200)}`;
  if (typeof frame.json.message !== "string" || !frame.json.message) return "error without message";
  return undefined;
}

let harness: RealtimeHarness;
let client: RawClient;
let head = 0;

beforeAll(async () => {
  harness = await startRealtimeHarness();
  const token = await harness.token("admin");
  client = await RawClient.connect(harness.gateway.url, token);
  const appended = await harness.api.request("POST", "/streams/wsfuzz-1/events", {
    body: [
      { type: "Seed", data: { n: 1 } },
      { type: "Seed", data: { n: 2 } },
    ],
  });
  expect(appended.status).toBe(201);
  head = appended.body.events.at(-1).position;
});

afterAll(async () => {
  client?.close();
  await harness?.close();
});

const topic = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "$all",
      "category:wsfuzz",
      "stream:wsfuzz-1",
      "room:lobby",
      "stream:",
      "category:",
      "$none",
    ),
  },
  { weight: 2, arbitrary: anyText(30) },
  { weight: 1, arbitrary: fc.integer({ min: 195, max: 240 }).map((n) => `room:${"x".repeat(n - 5)}`) },
  { weight: 1, arbitrary: anyJson(1) },
);
const from = fc.oneof(
  fc.integer({ min: 0, max: 3 }),
  fc.constantFrom(-1, 1.5, 1e30, 2 ** 53, Number.MAX_SAFE_INTEGER, 1_000_000),
  anyJson(1),
);
const action = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("subscribe", "unsubscribe", "publish", "ping") },
  { weight: 1, arbitrary: fc.constantFrom("$connect", "$disconnect", "$default", "auth", "PING", "") },
  { weight: 1, arbitrary: anyText(12) },
  { weight: 1, arbitrary: anyJson(1) },
);
const frame = fc.record(
  {
    action,
    topic,
    filter: fc.oneof(
      anyJson(3),
      fc.dictionary(fc.constantFrom("type", "subject", "position", "data"), anyJson(2)),
    ),
    from,
    data: anyJson(),
    excludeSelf: anyJson(1),
    extra: anyJson(1),
  },
  { requiredKeys: ["action"] },
);

describe("JSON frames with random actions, topics, filters and from", () => {
  it("get exactly one answer by id (error frames with a stable code), leak nothing, keep the connection open", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(frame, async (body) => {
        const id = `fz-${n++}`;
        const mark = client.frames.length;
        client.socket.send(JSON.stringify({ ...body, id }));
        const answer = await client.waitFor(
          (f) => f.json?.id === id && ["ack", "pong", "error"].includes(f.json?.type),
          mark,
        );
        const echoes = [
          JSON.stringify(body),
          ...Object.values(body).map((v) => (typeof v === "string" ? v : (JSON.stringify(v) ?? ""))),
        ];
        expect(
          answer,
          `no answer to ${JSON.stringify(body).slice(0, 300)}; got ${client.frames
            .slice(mark)
            .map((f) => f.text)
            .join(" | ")
            .slice(0, 500)}`,
        ).toBeDefined();
        for (const f of client.frames.slice(mark))
          expect(frameBreach(f, echoes), JSON.stringify(body).slice(0, 300)).toBeUndefined();
        // A `from` the bus cannot honour (a fraction, negative, past the head) is refused, never acked.
        if (
          body.action === "subscribe" &&
          typeof body.from === "number" &&
          (!Number.isInteger(body.from) || body.from < 0 || body.from > head + 1)
        ) {
          expect(answer!.json.type, `subscribe with from ${body.from} (head ${head})`).toBe("error");
        }
        // Publishing into event topics is refused: appending is how events enter streams.
        if (
          body.action === "publish" &&
          typeof body.topic === "string" &&
          /^(stream:|category:|\$all$)/.test(body.topic)
        ) {
          expect(answer!.json.type).toBe("error");
        }
        // Housekeeping: leave no subscription behind to flood later runs with events.
        if (answer!.json.type === "ack" && body.action === "subscribe") {
          client.socket.send(JSON.stringify({ action: "unsubscribe", topic: body.topic, id: `${id}-u` }));
          await client.waitFor((f) => f.json?.id === `${id}-u`, mark);
        }
        expect(await client.alive()).toBe(true);
      }),
      { numRuns: RUNS },
    );
  }, 120_000);
});

describe("subscribe with random from", () => {
  it("acks a from within 0..head+1 and refuses anything else with an error frame naming from", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("$all", "category:wsfuzz", "stream:wsfuzz-1"),
        fc.oneof(
          fc.integer({ min: 0, max: head + 1 }),
          fc.integer({ min: head + 2, max: Number.MAX_SAFE_INTEGER }),
          fc.constantFrom(-1, 0.5, 1.5, 1e30, -0.1, Number.MAX_VALUE),
          fc.double({ noNaN: true, noDefaultInfinity: true }),
        ),
        async (topic, position) => {
          const id = `from-${n++}`;
          const mark = client.frames.length;
          client.socket.send(JSON.stringify({ action: "subscribe", id, topic, from: position }));
          const answer = await client.waitFor((f) => f.json?.id === id, mark);
          expect(answer, `no answer to from ${position}`).toBeDefined();
          expect(frameBreach(answer!)).toBeUndefined();
          const valid = Number.isInteger(position) && position >= 0 && position <= head + 1;
          expect({ position, type: answer!.json.type }).toEqual({ position, type: valid ? "ack" : "error" });
          if (!valid) expect(answer!.json.message).toMatch(/from/);
          else {
            client.socket.send(JSON.stringify({ action: "unsubscribe", topic, id: `${id}-u` }));
            await client.waitFor((f) => f.json?.id === `${id}-u`, mark);
          }
        },
      ),
      { numRuns: Math.ceil(RUNS / 4) },
    );
  }, 120_000);
});

const rawFrame = fc.oneof(
  anyText(200).map((text) => ({ text, binary: false })),
  fc
    .constantFrom("", "null", "1", '"ping"', "[]", "{", '{"action":', '{"action":"ping"', "{}", '{"id":"x"}')
    .map((text) => ({ text, binary: false })),
  fc.integer({ min: 1000, max: 30_000 }).map((size) => ({ text: "y".repeat(size), binary: false })),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => ({ bytes: Buffer.from(bytes), binary: true })),
  fc.constant({ bytes: Buffer.from(JSON.stringify({ action: "ping", id: "bin" })), binary: true }),
);

describe("frames that are not a JSON object, and binary frames", () => {
  it("get an error frame with a stable code and keep the connection open", async () => {
    await fc.assert(
      fc.asyncProperty(rawFrame, async (raw) => {
        const mark = client.frames.length;
        if (raw.binary) client.socket.send((raw as { bytes: Buffer }).bytes, { binary: true });
        else client.socket.send((raw as { text: string }).text);
        const error = await client.waitFor((f) => f.json?.type === "error", mark);
        const shown = raw.binary
          ? `binary ${(raw as { bytes: Buffer }).bytes.toString("hex").slice(0, 80)}`
          : JSON.stringify((raw as { text: string }).text.slice(0, 200));
        expect(
          error,
          `no error frame for ${shown}; got ${client.frames
            .slice(mark)
            .map((f) => f.text)
            .join(" | ")
            .slice(0, 300)}`,
        ).toBeDefined();
        for (const f of client.frames.slice(mark)) {
          expect(frameBreach(f, raw.binary ? [] : [(raw as { text: string }).text]), shown).toBeUndefined();
        }
        // A binary frame is refused as binary, not as whatever its bytes happen to spell.
        if (raw.binary) expect(error!.json.message, shown).toMatch(/binary/i);
        expect(await client.alive()).toBe(true);
      }),
      { numRuns: RUNS },
    );
  }, 120_000);

  it("a frame over API Gateway's 32 KB is refused (an error frame, or a close with 1009), never processed", async () => {
    const big = await RawClient.connect(harness.gateway.url, await harness.token("admin"));
    try {
      big.socket.send(
        JSON.stringify({ action: "publish", id: "big", topic: "room:big", data: "z".repeat(40 * 1024) }),
      );
      const answer = await big.waitFor((f) => f.json?.id === "big" || f.json?.type === "error", 0, 5000);
      if (big.closed) expect(big.closed.code).toBe(1009);
      else expect(answer?.json?.type).toBe("error");
    } finally {
      big.close();
    }
  });
});

describe("what is accepted is delivered", () => {
  it("a publish that is acked reaches a subscriber with identical data", async () => {
    const listener = await RawClient.connect(harness.gateway.url, await harness.token("admin"));
    const roomTopic = `room:fuzz-${randomBytes(3).toString("hex")}`;
    listener.socket.send(JSON.stringify({ action: "subscribe", id: "s", topic: roomTopic }));
    expect((await listener.waitFor((f) => f.json?.id === "s"))?.json.type).toBe("ack");
    let n = 0;
    try {
      await fc.assert(
        fc.asyncProperty(anyJson(), async (data) => {
          const id = `p-${n++}`;
          const mark = client.frames.length;
          const listenerMark = listener.frames.length;
          client.socket.send(JSON.stringify({ action: "publish", id, topic: roomTopic, data }));
          const answer = await client.waitFor((f) => f.json?.id === id, mark);
          expect(answer, `no answer to publish ${JSON.stringify(data)}`).toBeDefined();
          expect(frameBreach(answer!, [JSON.stringify(data)])).toBeUndefined();
          if (answer!.json.type !== "ack") return;
          const expected = JSON.parse(JSON.stringify(data));
          const got = await listener.waitFor(
            (f) => f.json?.type === "message" && f.json.topic === roomTopic,
            listenerMark,
            10_000,
          );
          expect(got?.json.data, `published ${JSON.stringify(data)}`).toEqual(expected);
        }),
        { numRuns: Math.ceil(RUNS / 4) },
      );
    } finally {
      listener.close();
    }
  }, 120_000);

  it("every event appended with a 201 reaches a $all subscriber with identical data", async () => {
    const listener = await RawClient.connect(harness.gateway.url, await harness.token("admin"));
    listener.socket.send(JSON.stringify({ action: "subscribe", id: "s", topic: "$all" }));
    expect((await listener.waitFor((f) => f.json?.id === "s"))?.json.type).toBe("ack");
    try {
      await fc.assert(
        fc.asyncProperty(anyJson(), async (data) => {
          const appended = await harness.api.request("POST", "/streams/wsfuzz-2/events", {
            body: { type: "Fuzzed", data },
          });
          expect(appended.status).toBeLessThan(500);
          if (appended.status !== 201) return;
          const eventId = appended.body.events[0].id;
          const got = await listener.waitFor(
            (f) => f.json?.type === "events" && f.json.events.some((e: { id: string }) => e.id === eventId),
            0,
            15_000,
          );
          expect(
            got,
            `event with data ${JSON.stringify(data)} never reached the WebSocket subscriber`,
          ).toBeDefined();
          const event = got!.json.events.find((e: { id: string }) => e.id === eventId);
          // What the client sent, as JSON carries it (fetch sends lone surrogates as U+FFFD).
          const sent = JSON.parse(Buffer.from(JSON.stringify(data)).toString("utf8"));
          expect(event.data).toEqual(sent);
        }),
        { numRuns: Math.ceil(RUNS / 4) },
      );
    } finally {
      listener.close();
    }
  }, 180_000);
});
