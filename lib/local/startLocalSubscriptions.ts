import { join, resolve } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateQueueCommand, SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { startCaptureReader } from "../capture/startCaptureReader.ts";
import type { Config } from "../config.ts";
import { readLocalConsumers, startLocalConsumers } from "../consumer/localConsumers.ts";
import { createSql, type Sql } from "../db/client.ts";
import { listenerSqlOptions, listenerSqsOptions, startListener } from "../listener/startListener.ts";
import { loadOperators } from "../operators/loadOperators.ts";
import { startOperators } from "../operators/startOperators.ts";
import { listSubscriptions } from "../subscriptions/listSubscriptions.ts";
import { createSubscriptionQueues } from "../subscriptions/subscriptionQueues.ts";
import { updateSubscriptionQueues } from "../subscriptions/updateSubscriptionQueues.ts";
import { startSqsServer } from "./sqsServer.ts";

type Stop = () => Promise<void> | void;

interface LocalPartOptions {
  config: Config;
  /** The process environment the handlers read their runtime from; endpoints are added to it. */
  env: Record<string, string | undefined>;
  stops: Array<{ name: string; stop: Stop }>;
  log: (message: string) => void;
}

/**
 * SQS for `npm run dev`: the embedded stand-in (fauxqs) on `EVENTBUS_SQS_PORT` unless `AWS_ENDPOINT_URL`
 * names LocalStack or another endpoint, and the realtime fan-out queue `<prefix>realtime`. Sets
 * `AWS_ENDPOINT_URL_SQS` and `EVENTBUS_REALTIME_QUEUE_URL` for the handlers.
 */
export async function startLocalSqs({ config, env, stops, log }: LocalPartOptions): Promise<void> {
  if (!config.AWS_ENDPOINT_URL && !env.AWS_ENDPOINT_URL_SQS) {
    const server = await startSqsServer({ port: config.EVENTBUS_SQS_PORT });
    stops.push({ name: "sqs", stop: server.stop });
    env.AWS_ENDPOINT_URL_SQS = server.endpoint;
    log(`SQS           ${server.endpoint} (fauxqs, in memory)`);
  }
  if (!env.EVENTBUS_REALTIME_QUEUE_URL) {
    const sqs = new SQSClient({ region: config.AWS_REGION, useQueueUrlAsEndpoint: false });
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({ QueueName: `${config.EVENTBUS_QUEUE_PREFIX}realtime` }),
    );
    sqs.destroy();
    env.EVENTBUS_REALTIME_QUEUE_URL = QueueUrl;
  }
}

/**
 * The listener, in process, and the pollers of the consumers listed in `.eventbus/consumers.json` (or
 * `EVENTBUS_CONSUMERS_FILE`). Call after `startLocalSqs`. The fauxqs stand-in keeps queues in memory, so
 * subscriptions registered in a persistent Postgres get their queues re-created here on start.
 */
export async function startLocalSubscriptions({
  config,
  env,
  stops,
  log,
  databaseUrl,
  root,
}: LocalPartOptions & { databaseUrl: string; root: string }): Promise<void> {
  const sql = createSql(databaseUrl, { max: 5, ...listenerSqlOptions });
  const sqs = new SQSClient({
    region: config.AWS_REGION,
    useQueueUrlAsEndpoint: false,
    ...listenerSqsOptions,
  });
  // The realtime directory, read so that events nobody subscribes to skip the fan-out queue.
  const realtimeDynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ region: config.AWS_REGION }));
  stops.push({
    name: "listener clients",
    stop: () =>
      sql.end({ timeout: 5 }).finally(() => {
        sqs.destroy();
        realtimeDynamo.destroy();
      }),
  });
  await recreateQueues(sql, sqs, config);

  const listener = await startListener({
    sql,
    sqs,
    source: config.EVENTBUS_SOURCE,
    listenerId: config.EVENTBUS_LISTENER_ID ?? "dev",
    ...(env.EVENTBUS_REALTIME_QUEUE_URL
      ? {
          realtimeQueueUrl: env.EVENTBUS_REALTIME_QUEUE_URL,
          realtimeTable: { dynamo: realtimeDynamo, tableName: config.EVENTBUS_REALTIME_TABLE },
        }
      : {}),
    pollIntervalMs: config.EVENTBUS_LISTENER_POLL_MS,
    pageSize: config.EVENTBUS_LISTENER_PAGE_SIZE,
    sendConcurrency: config.EVENTBUS_LISTENER_SEND_CONCURRENCY,
    maxQueueDepth: config.EVENTBUS_MAX_QUEUE_DEPTH,
    log: (level, message, fields) => {
      if (level !== "debug") log(`listener: ${message}${fields ? ` ${JSON.stringify(fields)}` : ""}`);
    },
  });
  stops.push({ name: "listener", stop: listener.stop });

  // Change capture appends with synchronous commit (the slot is acknowledged only after a durable append),
  // so it has its own small pool rather than the listener's.
  const captureSql = createSql(databaseUrl, { max: 6 });
  const capture = startCaptureReader({
    sql: captureSql,
    databaseUrl,
    log: (level, message, fields) => {
      if (level !== "debug") log(`capture: ${message}${fields ? ` ${JSON.stringify(fields)}` : ""}`);
    },
  });
  const operators = startOperators({
    sql: captureSql,
    operators: await loadOperators(config.EVENTBUS_OPERATORS_MODULE, root),
    source: config.EVENTBUS_SOURCE,
    ownerId: config.EVENTBUS_LISTENER_ID ?? "dev",
    log: (level, message, fields) => {
      if (level !== "debug") log(`operators: ${message}${fields ? ` ${JSON.stringify(fields)}` : ""}`);
    },
  });
  stops.push({
    name: "capture and operators",
    stop: () =>
      Promise.all([capture.stop(), operators.stop()])
        .then(() => {})
        .finally(() => captureSql.end({ timeout: 5 })),
  });

  const file = resolve(root, config.EVENTBUS_CONSUMERS_FILE ?? join(".eventbus", "consumers.json"));
  const consumers = readLocalConsumers(file);
  if (consumers.length > 0) {
    const running = startLocalConsumers({ sql, sqs, root, consumers, region: config.AWS_REGION, log });
    stops.push({ name: "consumers", stop: running.stop });
  }
  log(`consumers     ${consumers.length} from ${file}`);
}

/**
 * Queues of the registered subscriptions, created again if the stand-in (in memory) lost them, and the
 * registry pointed at their URLs (which carry the stand-in's port).
 */
async function recreateQueues(sql: Sql, sqs: SQSClient, config: Config): Promise<void> {
  for (const s of await listSubscriptions(sql)) {
    const queues = await createSubscriptionQueues(sqs, config.EVENTBUS_QUEUE_PREFIX, s.name, s);
    if (queues.queueUrl !== s.queueUrl || queues.dlqUrl !== s.dlqUrl) {
      await updateSubscriptionQueues(sql, s.name, queues);
    }
  }
}
