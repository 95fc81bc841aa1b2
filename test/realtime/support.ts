import { randomBytes } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateQueueCommand, SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { inject } from "vitest";
import WebSocket from "ws";
import { issueToken } from "../../lib/auth/token.ts";
import { createSql } from "../../lib/db/client.ts";
import { listenerSqlOptions, startListener } from "../../lib/listener/startListener.ts";
import { startSqsPoller } from "../../lib/local/sqsPoller.ts";
import { type RunningWsGateway, startWsGateway } from "../../lib/local/wsGateway.ts";
import { createRealtimeTable } from "../../lib/realtime/table.ts";
import { startTestHttpApi, TEST_JWT_SECRET, type TestHttpApi } from "../support/httpApi.ts";

const credentials = { accessKeyId: "test", secretAccessKey: "test" };

export interface RealtimeHarness {
  api: TestHttpApi;
  gateway: RunningWsGateway;
  tableName: string;
  queueUrl: string;
  sqs: SQSClient;
  dynamo: DynamoDBDocumentClient;
  token(
    scope: string,
    streams?: string[],
    options?: { expiresIn?: string | number; subject?: string },
  ): Promise<string>;
  /** Connects a client with a token (admin unless given). */
  connect(token?: string): Promise<TestClient>;
  /** Every item the table holds under `pk`. */
  itemsUnder(pk: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/**
 * The realtime parts as they run locally: the WebSocket gateway stand-in with the real route handlers, the
 * HTTP API, a fresh database, a table and a fan-out queue of this file's own, the listener forwarding new
 * events to that queue, and the broadcaster Lambda behind the local SQS event source.
 */
export async function startRealtimeHarness(
  options: {
    idleTimeoutMs?: number;
    maxConnectionMs?: number;
    /** Where the handlers reach DynamoDB (a fault proxy in front of the stand-in), given its endpoint. */
    dynamoEndpoint?: (endpoint: string) => Promise<string>;
    /** Where the handlers reach `@connections` (a fault proxy in front of the gateway), given its endpoint. */
    managementEndpoint?: (endpoint: string) => Promise<string>;
  } = {},
): Promise<RealtimeHarness> {
  const { dynamoEndpoint: viaDynamo, managementEndpoint: viaManagement, ...gatewayOptions } = options;
  const suffix = randomBytes(5).toString("hex");
  const tableName = `realtime-${suffix}`;
  const dynamoEndpoint = inject("dynamoEndpoint");
  const sqsEndpoint = inject("sqsEndpoint");
  const rawDynamo = new DynamoDBClient({ endpoint: dynamoEndpoint, region: "us-east-1", credentials });
  await createRealtimeTable(rawDynamo, tableName);
  const dynamo = DynamoDBDocumentClient.from(rawDynamo);
  const sqs = new SQSClient({
    endpoint: sqsEndpoint,
    region: "us-east-1",
    credentials,
    useQueueUrlAsEndpoint: false,
  });
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `realtime-${suffix}` }));
  const queueUrl = QueueUrl!;

  const { loadLocalWsRoutes } = await import("../../functions/ws/localRoutes.ts");
  const gateway = await startWsGateway({ routes: await loadLocalWsRoutes(), port: 0, ...gatewayOptions });
  // The handlers build their runtime from the environment on first use, exactly as on Lambda.
  const api = await startTestHttpApi({
    AWS_ENDPOINT_URL_DYNAMODB: viaDynamo ? await viaDynamo(dynamoEndpoint) : dynamoEndpoint,
    AWS_ENDPOINT_URL_SQS: sqsEndpoint,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_REGION: "us-east-1",
    EVENTBUS_REALTIME_TABLE: tableName,
    EVENTBUS_REALTIME_QUEUE_URL: queueUrl,
    EVENTBUS_WS_MANAGEMENT_ENDPOINT: viaManagement
      ? await viaManagement(gateway.managementEndpoint)
      : gateway.managementEndpoint,
  });
  const { handler: broadcaster } = await import("../../functions/realtime/broadcaster.ts");
  const poller = startSqsPoller({ sqs, queueUrl, handler: broadcaster, waitTimeSeconds: 1 });
  const listenerSql = createSql(api.db.url, { ...listenerSqlOptions, max: 4 });
  const listener = await startListener({
    sql: listenerSql,
    sqs,
    source: "urn:eventbus",
    realtimeQueueUrl: queueUrl,
    pollIntervalMs: 1000,
  });
  const clients = new Set<TestClient>();

  return {
    api,
    gateway,
    tableName,
    queueUrl,
    sqs,
    dynamo,
    token: (scope, streams, extra = {}) =>
      issueToken(TEST_JWT_SECRET, { scope, ...(streams ? { streams } : {}), ...extra }),
    async connect(token) {
      const client = await TestClient.connect(
        gateway.url,
        token ?? (await issueToken(TEST_JWT_SECRET, { scope: "admin" })),
      );
      clients.add(client);
      return client;
    },
    async itemsUnder(pk) {
      const { Items } = await dynamo.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": pk },
          ConsistentRead: true,
        }),
      );
      return Items ?? [];
    },
    async close() {
      for (const client of clients) client.close();
      await listener.stop();
      await listenerSql.end({ timeout: 5 });
      await poller.stop();
      await gateway.stop();
      await api.close();
      sqs.destroy();
      rawDynamo.destroy();
    },
  };
}

/** A real `ws` client that records every frame it receives. */
export class TestClient {
  readonly frames: any[] = [];
  private waiters: Array<() => void> = [];
  closed: { code: number; reason: string } | undefined;

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      this.frames.push(JSON.parse(data.toString()));
      for (const wake of this.waiters.splice(0)) wake();
    });
    socket.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** Opens a connection; rejects with the HTTP status when the handshake is refused. */
  static connect(url: string, token: string | null): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(token === null ? url : `${url}/?token=${encodeURIComponent(token)}`);
      socket.once("open", () => resolve(new TestClient(socket)));
      socket.once("unexpected-response", (_req, res) =>
        reject(Object.assign(new Error("refused"), { status: res.statusCode })),
      );
      socket.once("error", reject);
    });
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Waits for the first frame (not yet taken) that satisfies `predicate`, and takes it. */
  async next(predicate: (frame: any) => boolean = () => true, timeoutMs = 5000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.frames.findIndex(predicate);
      if (index >= 0) return this.frames.splice(index, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Sends a frame with an `id` and waits for the ack, pong or error that answers it. */
  async request(frame: Record<string, unknown>, timeoutMs = 5000): Promise<any> {
    const id = frame.id ?? randomBytes(4).toString("hex");
    this.send({ ...frame, id });
    return this.next((f) => f.id === id && ["ack", "pong", "error"].includes(f.type), timeoutMs);
  }

  /** Resolves once the server has closed the connection. */
  async waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error("connection still open");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.closed;
  }

  close(): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close();
  }
}
