/**
 * The listener's entry point: a long-running process (ECS Fargate on AWS, a child of `npm run dev`
 * locally) that forwards events into subscription queues and the realtime fan-out queue. SIGTERM (ECS
 * stop, Ctrl-C) stops it gracefully: in-flight sends finish or are abandoned, and its subscriptions are
 * released for the other replicas at once instead of when the connection times out.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { SQSClient } from "@aws-sdk/client-sqs";
import { startCaptureReader } from "../../lib/capture/startCaptureReader.ts";
import { parseConfig } from "../../lib/config.ts";
import { createSql } from "../../lib/db/client.ts";
import {
  type Listener,
  type ListenerOptions,
  listenerSqlOptions,
  listenerSqsOptions,
  startListener,
} from "../../lib/listener/startListener.ts";
import { startProcessMetrics } from "../../lib/metrics/processMetrics.ts";
import { metrics } from "../../lib/metrics/registry.ts";
import { loadOperators } from "../../lib/operators/loadOperators.ts";
import { startOperators } from "../../lib/operators/startOperators.ts";
import { xrayDaemonSink } from "../../lib/tracing/xrayDaemon.ts";
import { databaseUrl } from "../shared/runtime.ts";

const logger = new Logger({ serviceName: "eventbus-listener" });

async function main() {
  const config = parseConfig(process.env);
  const url = await databaseUrl(config);
  const sql = createSql(url, { max: config.DATABASE_POOL_MAX, ...listenerSqlOptions });
  // Change capture appends with synchronous commit: the slot is acknowledged only after a durable append.
  const captureSql = createSql(url, { max: 6 });
  const sqs = new SQSClient({
    region: config.AWS_REGION,
    useQueueUrlAsEndpoint: false,
    ...listenerSqsOptions,
  });
  // What the listener records (parked events by subscription) reaches CloudWatch as EMF on stdout.
  const emf = startProcessMetrics(metrics, {
    bus: config.EVENTBUS_NAME,
    serviceName: "eventbus-listener",
  });
  const tracing = config.AWS_XRAY_DAEMON_ADDRESS ? xrayDaemonSink(config.AWS_XRAY_DAEMON_ADDRESS) : undefined;
  const options: ListenerOptions = {
    sql,
    sqs,
    source: config.EVENTBUS_SOURCE,
    ...(config.EVENTBUS_LISTENER_ID ? { listenerId: config.EVENTBUS_LISTENER_ID } : {}),
    ...(config.EVENTBUS_REALTIME_QUEUE_URL ? { realtimeQueueUrl: config.EVENTBUS_REALTIME_QUEUE_URL } : {}),
    ...(tracing ? { tracing } : {}),
    pollIntervalMs: config.EVENTBUS_LISTENER_POLL_MS,
    pageSize: config.EVENTBUS_LISTENER_PAGE_SIZE,
    sendConcurrency: config.EVENTBUS_LISTENER_SEND_CONCURRENCY,
    maxQueueDepth: config.EVENTBUS_MAX_QUEUE_DEPTH,
    depthLagMs: config.EVENTBUS_QUEUE_DEPTH_LAG_MS,
    log: (level, message, fields) => logger[level](message, fields ?? {}),
  };
  // A database that is restarting or not reachable yet is waited for, not a reason to exit: the process
  // would only be restarted into the same situation.
  let listener: Listener | undefined;
  for (let attempt = 0; !listener; attempt++) {
    try {
      listener = await startListener(options);
    } catch (error) {
      const retryInMs = Math.min(250 * 2 ** attempt, 5_000);
      logger.warn("listener could not start yet, retrying", { error: (error as Error).message, retryInMs });
      await new Promise((resolve) => setTimeout(resolve, retryInMs));
    }
  }
  logger.info("listener started", { listenerId: listener.listenerId });
  const capture = startCaptureReader({
    sql: captureSql,
    databaseUrl: url,
    log: (level, message, fields) => logger[level](message, fields ?? {}),
  });
  // Operators write to the application's tables in the same transactions as their checkpoints: like the
  // capture, they use the synchronously committing pool.
  const operators = startOperators({
    sql: captureSql,
    operators: await loadOperators(config.EVENTBUS_OPERATORS_MODULE, process.cwd()),
    source: config.EVENTBUS_SOURCE,
    ownerId: listener.listenerId,
    log: (level, message, fields) => logger[level](message, fields ?? {}),
  });

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    logger.info("stopping");
    await Promise.all([listener?.stop(), capture.stop(), operators.stop()]);
    await Promise.all([sql.end({ timeout: 5 }), captureSql.end({ timeout: 5 })]);
    sqs.destroy();
    tracing?.close();
    emf.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown());
  process.on("SIGINT", () => void shutdown());
}

main().catch((error) => {
  logger.error("listener failed to start", { error: error as Error });
  process.exit(1);
});
