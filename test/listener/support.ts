import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, inject } from "vitest";
import type { EventBusCloudEvent } from "../../lib/events/types.ts";
import { type Listener, type ListenerOptions, startListener } from "../../lib/listener/startListener.ts";
import { createSubscription } from "../../lib/subscriptions/createSubscription.ts";
import { parseSubscriptionDefinition } from "../../lib/subscriptions/definition.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

/** A real SDK client against the run's SQS stand-in. */
export const createSqsClient = () =>
  new SQSClient({
    endpoint: inject("sqsEndpoint"),
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });

/** A queue prefix no other test file uses. */
export const uniquePrefix = (label: string) => `t${randomBytes(3).toString("hex")}-${label}-`;

export interface Received {
  event: EventBusCloudEvent;
  groupId: string | undefined;
  attributes: Record<string, string | undefined>;
}

/**
 * Receives (and deletes) messages from a queue as a consumer would, until `count` have arrived or the
 * timeout passes; then keeps listening `settleMs` longer to catch anything extra (duplicates).
 */
export async function receiveEvents(
  sqs: SQSClient,
  queueUrl: string,
  count: number,
  options: { timeoutMs?: number; settleMs?: number } = {},
): Promise<Received[]> {
  const received: Received[] = [];
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  let settleUntil = Number.POSITIVE_INFINITY;
  while (Date.now() < Math.min(deadline, settleUntil)) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageAttributeNames: ["All"],
        MessageSystemAttributeNames: ["All"],
      }),
    );
    for (const m of Messages) {
      received.push({
        event: JSON.parse(m.Body!) as EventBusCloudEvent,
        groupId: m.Attributes?.MessageGroupId,
        attributes: Object.fromEntries(
          Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue]),
        ),
      });
    }
    if (Messages.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
    if (received.length >= count && settleUntil === Number.POSITIVE_INFINITY) {
      settleUntil = Date.now() + (options.settleMs ?? 0);
    }
  }
  return received;
}

export interface ListenerProcess {
  /** Resolves once the process has logged that it started. */
  ready: Promise<void>;
  /** SIGKILL: no cleanup at all, as when a task is lost. */
  kill(): Promise<void>;
  /** SIGTERM, as ECS stops a task; resolves with the exit code. */
  terminate(): Promise<number | null>;
  output(): string;
}

/**
 * Runs the real listener entry point (`functions/listener/main.ts`) as a child process, so a test can kill
 * it the hard way.
 */
export function spawnListener(env: Record<string, string>): ListenerProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "functions/listener/main.ts"], {
    env: {
      PATH: process.env.PATH ?? "",
      AWS_ENDPOINT_URL_SQS: inject("sqsEndpoint"),
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes("listener started")) resolve();
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code) => reject(new Error(`listener exited with ${code}: ${out}`)));
  });
  ready.catch(() => {});
  return {
    ready,
    async kill() {
      child.kill("SIGKILL");
      await exited;
    },
    terminate() {
      child.kill("SIGTERM");
      return exited;
    },
    output: () => out,
  };
}

export interface ListenerHarness {
  sqs: SQSClient;
  /** Set in `beforeAll`: a fresh database and a listener forwarding from it. */
  db: TestDatabase;
  listener: Listener;
  /** Creates a subscription (queues included) from a `PUT /subscriptions/{name}` body. */
  subscribe(name: string, body: unknown): ReturnType<typeof createSubscriptionOf>;
}

const createSubscriptionOf = async (harness: ListenerHarness, prefix: string, name: string, body: unknown) =>
  (
    await createSubscription(harness.db.sql, harness.sqs, {
      name,
      definition: parseSubscriptionDefinition(body),
      queuePrefix: prefix,
    })
  ).subscription;

/**
 * A test file's fresh database with a real listener running on it, its own queue prefix, and teardown.
 * Call at the top of the file; use the members inside tests.
 */
export function useListenerHarness(
  label: string,
  options: Partial<Omit<ListenerOptions, "sql" | "sqs" | "source">> = {},
): ListenerHarness {
  const prefix = uniquePrefix(label);
  const harness = {
    sqs: createSqsClient(),
    subscribe: (name: string, body: unknown) => createSubscriptionOf(harness, prefix, name, body),
  } as ListenerHarness;
  beforeAll(async () => {
    harness.db = await createTestDatabase();
    harness.listener = await startListener({
      sql: harness.db.sql,
      sqs: harness.sqs,
      source: "urn:test",
      claimIntervalMs: 200,
      ...options,
    });
  });
  afterAll(async () => {
    await harness.listener.stop();
    await harness.db.close();
    harness.sqs.destroy();
  });
  return harness;
}

/** An SQS message entry as the listener's SDK client sends it. */
export interface SentEntry {
  MessageBody?: string;
  MessageSystemAttributes?: Record<string, { StringValue?: string }>;
}

/**
 * Records every `SendMessageBatch` entry the client sends: the SQS stand-in accepts
 * `MessageSystemAttributes` (AWSTraceHeader) but does not keep them, so tests read the requests.
 */
export function recordSentEntries(sqs: SQSClient): SentEntry[] {
  const sent: SentEntry[] = [];
  sqs.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "SendMessageBatchCommand") {
        sent.push(...((args.input as { Entries?: SentEntry[] }).Entries ?? []));
      }
      return next(args);
    },
    { step: "initialize", name: "recordSentEntries" },
  );
  return sent;
}
