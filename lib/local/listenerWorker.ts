/**
 * The listener process of `npm run dev` (the listener, change capture and operators) in a worker thread:
 * on AWS it is a container of its own, and here it would otherwise share the one event loop that serves
 * HTTP appends (every append wakes it for a head probe, a page read, a listened-topics lookup and a
 * checkpoint). Started by `startLocalSubscriptions` with `workerData` `{config, databaseUrl, root}`;
 * sends `{ready}` once running, `{log}` lines, `{metrics}` batches of what it records (parked events,
 * replayed into the `/metrics` of the main thread by `startTsWorker`), and `{stopped}` after a
 * `{stop: true}`. It reads the AWS endpoints from the environment it inherits.
 */
import { parentPort, workerData } from "node:worker_threads";
import { SQSClient } from "@aws-sdk/client-sqs";
import { startCaptureReader } from "../capture/startCaptureReader.ts";
import type { Config } from "../config.ts";
import { createSql } from "../db/client.ts";
import { listenerSqlOptions, listenerSqsOptions, startListener } from "../listener/startListener.ts";
import { forwardRecordings } from "../metrics/forwardMetrics.ts";
import { metrics } from "../metrics/registry.ts";
import { loadOperators } from "../operators/loadOperators.ts";
import { startOperators } from "../operators/startOperators.ts";

const { config, databaseUrl, root, realtimeQueueUrl } = workerData as {
  config: Config;
  databaseUrl: string;
  root: string;
  realtimeQueueUrl: string | undefined;
};
const forwarding = forwardRecordings(metrics, (batch) => parentPort!.postMessage({ metrics: batch }));
const log = (message: string) => parentPort!.postMessage({ log: message });
const logAs = (part: string) => (level: string, message: string, fields?: Record<string, unknown>) => {
  if (level !== "debug") log(`${part}: ${message}${fields ? ` ${JSON.stringify(fields)}` : ""}`);
};

const sql = createSql(databaseUrl, { max: 5, ...listenerSqlOptions });
const sqs = new SQSClient({ region: config.AWS_REGION, useQueueUrlAsEndpoint: false, ...listenerSqsOptions });
const listener = await startListener({
  sql,
  sqs,
  source: config.EVENTBUS_SOURCE,
  listenerId: config.EVENTBUS_LISTENER_ID ?? "dev",
  ...(realtimeQueueUrl ? { realtimeQueueUrl } : {}),
  pollIntervalMs: config.EVENTBUS_LISTENER_POLL_MS,
  pageSize: config.EVENTBUS_LISTENER_PAGE_SIZE,
  sendConcurrency: config.EVENTBUS_LISTENER_SEND_CONCURRENCY,
  maxQueueDepth: config.EVENTBUS_MAX_QUEUE_DEPTH,
  depthLagMs: config.EVENTBUS_QUEUE_DEPTH_LAG_MS,
  log: logAs("listener"),
});

// Change capture appends with synchronous commit (the slot is acknowledged only after a durable append),
// so it has its own small pool rather than the listener's.
const captureSql = createSql(databaseUrl, { max: 6 });
const capture = startCaptureReader({ sql: captureSql, databaseUrl, log: logAs("capture") });
const operators = startOperators({
  sql: captureSql,
  operators: await loadOperators(config.EVENTBUS_OPERATORS_MODULE, root),
  source: config.EVENTBUS_SOURCE,
  ownerId: config.EVENTBUS_LISTENER_ID ?? "dev",
  log: logAs("operators"),
});

parentPort!.postMessage({ ready: true });
parentPort!.on("message", async () => {
  await Promise.all([listener.stop(), capture.stop(), operators.stop()]);
  await Promise.all([sql.end({ timeout: 5 }), captureSql.end({ timeout: 5 })]);
  sqs.destroy();
  forwarding.stop();
  parentPort!.postMessage({ stopped: true });
});
