import { join, resolve } from "node:path";
import { CreateQueueCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { Config } from "../config.ts";
import { readLocalConsumers, startLocalConsumers } from "../consumer/localConsumers.ts";
import { createSql, type Sql } from "../db/client.ts";
import { listenerSqlOptions, listenerSqsOptions } from "../listener/startListener.ts";
import { listSubscriptions } from "../subscriptions/listSubscriptions.ts";
import { createSubscriptionQueues } from "../subscriptions/subscriptionQueues.ts";
import { updateSubscriptionQueues } from "../subscriptions/updateSubscriptionQueues.ts";
import { startStandIn } from "./startStandIn.ts";
import { startTsWorker } from "./tsWorker.ts";

type Stop = () => Promise<void> | void;

interface LocalPartOptions {
  config: Config;
  /** The process environment the handlers read their runtime from; endpoints are added to it. */
  env: Record<string, string | undefined>;
  stops: Array<{ name: string; stop: Stop }>;
  log: (message: string) => void;
}

/**
 * SQS for `npm run dev`: the embedded stand-in (fauxqs, in a worker thread) on `EVENTBUS_SQS_PORT` unless `AWS_ENDPOINT_URL`
 * names LocalStack or another endpoint, and the realtime fan-out queue `<prefix>realtime`. Sets
 * `AWS_ENDPOINT_URL_SQS` and `EVENTBUS_REALTIME_QUEUE_URL` for the handlers.
 */
export async function startLocalSqs({ config, env, stops, log }: LocalPartOptions): Promise<void> {
  if (!config.AWS_ENDPOINT_URL && !env.AWS_ENDPOINT_URL_SQS) {
    const server = await startStandIn("sqs", config.EVENTBUS_SQS_PORT, log);
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
 * The listener (with change capture and operators, in a worker thread), and the pollers of the consumers listed in `.eventbus/consumers.json` (or
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
  stops.push({ name: "listener clients", stop: () => sql.end({ timeout: 5 }).finally(() => sqs.destroy()) });
  await recreateQueues(sql, sqs, config);

  // The listener, change capture and operators: one process on AWS, one worker thread here.
  const listener = await startTsWorker(
    new URL("./listenerWorker.ts", import.meta.url),
    { config, databaseUrl, root, realtimeQueueUrl: env.EVENTBUS_REALTIME_QUEUE_URL },
    env,
    log,
  );
  stops.push({ name: "listener", stop: listener.stop });

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
