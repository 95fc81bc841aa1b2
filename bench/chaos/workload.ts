import { randomUUID } from "node:crypto";
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import WebSocket from "ws";

/** Poison data: what a careless client sends. `mustRefuse` ones cannot be stored and must get a 400. */
export const POISON_KINDS = {
  nonCharacterFFFE: { data: { text: "a\uFFFEb" }, mustRefuse: false },
  nonCharacterFFFF: { data: { text: "a\uFFFFb", "key\uFFFF": 1 }, mustRefuse: false },
  astral: { data: { text: "\u{1F600}\u{1D11E}\u{10FFFF}", "\u{1F4A9}": "\u{E0001}" }, mustRefuse: false },
  nul: { data: { text: "a\u0000b" }, mustRefuse: true },
  loneSurrogate: { data: { text: "a\uD800b" }, mustRefuse: true },
} as const;
export type PoisonKind = keyof typeof POISON_KINDS;

/** Filters a subscription must refuse at `PUT` (400), because the store could never evaluate them. */
export const POISON_FILTERS: Record<string, unknown> = {
  "fraction-position": { position: [{ numeric: [">", 1.5] }] },
  "huge-streamversion": { streamversion: [{ numeric: [">=", 1e30] }] },
  "nul-prefix": { type: [{ prefix: "\u0000" }] },
};

export interface AcceptedEvent {
  id: string;
  streamId: string;
  version: number;
  position: number;
  poison?: PoisonKind;
}

export interface WriterStats {
  requests: number;
  /** Answers by status, including every retry. */
  statuses: Map<number, number>;
  networkErrors: number;
  /** Requests that got a 4xx they did not expect, by `status code`. */
  unexpectedRefusals: Map<string, number>;
  accepted: AcceptedEvent[];
  poisonSent: Map<PoisonKind, number>;
  poisonAccepted: Map<PoisonKind, number>;
  poisonRefused: Map<PoisonKind, number>;
  /** Anything the contract forbids: a 5xx on poison, NUL accepted, U+FFFE refused... */
  violations: string[];
}

export const newWriterStats = (): WriterStats => ({
  requests: 0,
  statuses: new Map(),
  networkErrors: 0,
  unexpectedRefusals: new Map(),
  accepted: [],
  poisonSent: new Map(),
  poisonAccepted: new Map(),
  poisonRefused: new Map(),
  violations: [],
});

const bump = <K>(map: Map<K, number>, key: K, by = 1) => map.set(key, (map.get(key) ?? 0) + by);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface AppendAnswer {
  status: number;
  body: any;
}

/**
 * Appends one batch, retrying the identical request (same event ids, so a retry after an unknown outcome
 * is idempotent) on network errors and 5xx, as a careful client does, until it gets a final answer or
 * `giveUpAt` passes; then the last answer (a 5xx) or `undefined` (no answer at all).
 */
async function appendWithRetry(
  httpUrl: string,
  token: string,
  streamId: string,
  body: string,
  stats: WriterStats,
  giveUpAt: number,
): Promise<AppendAnswer | undefined> {
  let last: AppendAnswer | undefined;
  for (let attempt = 0; ; attempt++) {
    stats.requests++;
    try {
      const response = await fetch(`${httpUrl}/streams/${streamId}/events`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body,
        signal: AbortSignal.timeout(30_000),
      });
      const text = await response.text();
      bump(stats.statuses, response.status);
      let parsed: any;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = { unparsable: text.slice(0, 200) };
      }
      last = { status: response.status, body: parsed };
      if (response.status < 500) return last;
    } catch {
      stats.networkErrors++;
    }
    if (Date.now() > giveUpAt) return last;
    await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 5)));
  }
}

export interface WriterOptions {
  httpUrl: string;
  token: string;
  writers: number;
  streams: number;
  /** Events per second across all writers. */
  rate: number;
  /** Share of appends that carry a poison event instead. */
  poisonRate: number;
  random: () => number;
  /** Writers stop starting new appends once this is true. */
  until: () => boolean;
  /** Once true, writer 0 sends every kind of poison once more (after the faults began). */
  poisonAgain: () => boolean;
  stats: WriterStats;
}

export const streamIdOf = (index: number) => `chaos-${index}`;

/**
 * N writers appending small batches to random streams at a steady total rate, with poison sprinkled in.
 * Writer 0 also sends every kind of poison once right away and once more when `poisonAgain()` turns true,
 * so that even a short run tries each.
 */
export async function runWriters(options: WriterOptions): Promise<void> {
  const { stats, random } = options;
  const perWriterInterval = (options.writers * 1000) / options.rate; // ms per event per writer
  const poisonKinds = Object.keys(POISON_KINDS) as PoisonKind[];
  const planned: PoisonKind[] = [...poisonKinds];
  let replanned = false;
  await Promise.all(
    Array.from({ length: options.writers }, async (_, writer) => {
      let seq = 0;
      let next = Date.now();
      while (!options.until()) {
        const streamId = streamIdOf(Math.floor(random() * options.streams));
        if (writer === 0 && !replanned && options.poisonAgain()) {
          replanned = true;
          planned.push(...poisonKinds);
        }
        const poison =
          (writer === 0 ? planned.shift() : undefined) ??
          (random() < options.poisonRate
            ? poisonKinds[Math.floor(random() * poisonKinds.length)]!
            : undefined);
        const count = poison ? 1 : 1 + Math.floor(random() * 3);
        const events = Array.from({ length: count }, () => ({
          id: randomUUID(),
          type: poison ? "Poison" : "Tick",
          data: poison ? POISON_KINDS[poison].data : { writer, seq: seq++, streamId },
        }));
        if (poison) bump(stats.poisonSent, poison);
        const answer = await appendWithRetry(
          options.httpUrl,
          options.token,
          streamId,
          JSON.stringify(events),
          stats,
          // Poison that gets a 5xx gets it every time: retries for longer than an outage (a Postgres
          // restart answers 503 for some seconds) tell the two apart sooner than the 120 s of others.
          Date.now() + (poison ? 30_000 : 120_000),
        );
        if (!answer || answer.status >= 500) {
          stats.violations.push(
            `append${poison ? ` of poison '${poison}'` : ""} got ${answer ? `${answer.status} ${answer.body?.code ?? ""}` : "no answer"} after ${poison ? 30 : 120} s of retries`,
          );
        } else if (answer.status === 201) {
          const answered = answer.body?.events as Array<{ id: string; version: number; position: number }>;
          for (const e of answered ?? []) {
            stats.accepted.push({
              id: e.id,
              streamId,
              version: e.version,
              position: e.position,
              ...(poison ? { poison } : {}),
            });
          }
          if (poison) {
            bump(stats.poisonAccepted, poison);
            if (POISON_KINDS[poison].mustRefuse) {
              stats.violations.push(`poison '${poison}' was accepted (201); it must be refused with a 400`);
            }
          }
        } else if (poison) {
          bump(stats.poisonRefused, poison);
          if (!POISON_KINDS[poison].mustRefuse) {
            stats.violations.push(
              `poison '${poison}' was refused (${answer.status} ${answer.body?.code}); it must be accepted and delivered`,
            );
          } else if (answer.status !== 400 || answer.body?.code !== "VALIDATION_FAILED") {
            stats.violations.push(
              `poison '${poison}' got ${answer.status} ${answer.body?.code}, expected 400 VALIDATION_FAILED`,
            );
          }
        } else {
          bump(stats.unexpectedRefusals, `${answer.status} ${answer.body?.code ?? ""}`);
        }
        next += perWriterInterval * count;
        const wait = next - Date.now();
        if (wait > 0) await sleep(wait);
        else if (wait < -5000) next = Date.now(); // do not burst to catch up after an outage
      }
    }),
  );
}

/** PUTs each poison filter; every one must get a 400 naming the problem. Returns the names accepted. */
export async function putPoisonFilters(
  httpUrl: string,
  token: string,
  violations: string[],
): Promise<{ tried: number; refused: number; accepted: string[] }> {
  const accepted: string[] = [];
  let refused = 0;
  for (const [label, filter] of Object.entries(POISON_FILTERS)) {
    const name = `poison-${label}`;
    const response = await fetch(`${httpUrl}/subscriptions/${name}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ filter, startFrom: "origin" }),
    });
    const body = (await response.json().catch(() => ({}))) as { code?: string };
    if (response.status === 400 && body.code === "VALIDATION_FAILED") {
      refused++;
    } else {
      if (response.status < 300) accepted.push(name);
      violations.push(
        `poison filter '${label}' got ${response.status} ${body.code ?? ""}, expected 400 VALIDATION_FAILED`,
      );
    }
  }
  return { tried: Object.keys(POISON_FILTERS).length, refused, accepted };
}

export interface SinkRecord {
  /** Deliveries per event id. */
  counts: Map<string, number>;
  /** Per stream, stream versions in the order they first arrived. */
  firstArrivals: Map<string, number[]>;
  deliveries: number;
}

export const newSinkRecord = (): SinkRecord => ({
  counts: new Map(),
  firstArrivals: new Map(),
  deliveries: 0,
});

function recordDelivery(sink: SinkRecord, event: { id?: string; streamid?: string; streamversion?: number }) {
  if (typeof event?.id !== "string") return;
  sink.deliveries++;
  const seen = sink.counts.get(event.id) ?? 0;
  sink.counts.set(event.id, seen + 1);
  if (seen === 0 && typeof event.streamid === "string" && typeof event.streamversion === "number") {
    const list = sink.firstArrivals.get(event.streamid) ?? [];
    list.push(event.streamversion);
    sink.firstArrivals.set(event.streamid, list);
  }
}

/**
 * A consumer draining a queue as fast as it can: receive, record, delete. It talks to the stand-in
 * directly (not through the fault proxy): the faults are for the bus, not for the measuring instrument.
 */
export function startQueueConsumer(sqs: SQSClient, queueUrl: string, sink: SinkRecord) {
  let running = true;
  let lastMessageAt = Date.now();
  const done = (async () => {
    while (running) {
      try {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
        );
        if (Messages.length === 0) continue;
        lastMessageAt = Date.now();
        for (const m of Messages) {
          try {
            recordDelivery(sink, JSON.parse(m.Body ?? "null"));
          } catch {
            sink.deliveries++;
          }
        }
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
          }),
        );
      } catch {
        await sleep(200);
      }
    }
  })();
  return {
    idleForMs: () => Date.now() - lastMessageAt,
    async stop() {
      running = false;
      await done;
    },
  };
}

/** Reads every message of a queue once (a DLQ at the end of a run) and returns the event ids. */
export async function readAllMessages(sqs: SQSClient, queueUrl: string): Promise<string[]> {
  const ids: string[] = [];
  for (let empty = 0; empty < 2; ) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        VisibilityTimeout: 60,
      }),
    );
    if (Messages.length === 0) {
      empty++;
      continue;
    }
    for (const m of Messages) {
      try {
        ids.push(String(JSON.parse(m.Body ?? "null")?.id));
      } catch {
        ids.push("(unparsable)");
      }
    }
  }
  return ids;
}

export interface WsClientRecord {
  topic: string;
  sink: SinkRecord;
  /** Open from before the first append to the end of the drain. */
  throughout: boolean;
  errors: string[];
  close(): void;
}

/** A WebSocket client subscribed to one topic, recording every event it receives. */
export async function connectWsClient(wsUrl: string, token: string, topic: string): Promise<WsClientRecord> {
  const socket = new WebSocket(`${wsUrl}/?token=${encodeURIComponent(token)}`);
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
    socket.once("unexpected-response", (_req, res) =>
      reject(new Error(`handshake refused: ${res.statusCode}`)),
    );
  });
  const record: WsClientRecord = {
    topic,
    sink: newSinkRecord(),
    throughout: true,
    errors: [],
    close: () => socket.close(),
  };
  let acked: () => void = () => {};
  const ack = new Promise<void>((resolve) => {
    acked = resolve;
  });
  socket.on("message", (raw) => {
    let frame: any;
    try {
      frame = JSON.parse(raw.toString());
    } catch {
      record.errors.push(`non-JSON frame: ${raw.toString().slice(0, 80)}`);
      return;
    }
    if (frame.type === "ack" && frame.id === "sub") acked();
    else if (frame.type === "events") for (const e of frame.events ?? []) recordDelivery(record.sink, e);
    else if (frame.type === "pong") return;
    else if (frame.type === "error" || frame.message) record.errors.push(JSON.stringify(frame).slice(0, 200));
  });
  // API Gateway closes connections idle for 10 minutes; a soak outlasts that.
  const keepAlive = setInterval(() => socket.send(JSON.stringify({ action: "ping" })), 60_000);
  socket.on("close", () => {
    clearInterval(keepAlive);
    record.throughout = false;
  });
  socket.on("error", () => {});
  socket.send(JSON.stringify({ action: "subscribe", id: "sub", topic }));
  await Promise.race([ack, sleep(10_000)]);
  return record;
}
