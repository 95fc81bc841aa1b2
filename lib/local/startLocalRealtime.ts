import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { Config } from "../config.ts";
import { createRealtimeTable } from "../realtime/table.ts";
import { startStandIn } from "./startStandIn.ts";
import { startTsWorker } from "./tsWorker.ts";
import { startWsGateway } from "./wsGateway.ts";

type Stop = () => Promise<void> | void;

export interface LocalRealtimeOptions {
  config: Config;
  /** The process environment the handlers read their runtime from; endpoints are added to it. */
  env: Record<string, string | undefined>;
  stops: Array<{ name: string; stop: Stop }>;
  log: (message: string) => void;
}

/**
 * The realtime half of `npm run dev`: DynamoDB (dynalite in a worker thread, on `EVENTBUS_DYNAMODB_PORT`, unless
 * `AWS_ENDPOINT_URL` names a LocalStack or other endpoint) with the realtime table, the WebSocket gateway
 * stand-in on `EVENTBUS_WS_PORT` serving the unmodified route handlers and `@connections`, and the
 * broadcaster Lambda (in a worker thread of its own) polling the realtime fan-out queue (`EVENTBUS_REALTIME_QUEUE_URL`, created by the
 * SQS part of `dev.ts`). Returns the WebSocket URL.
 */
export async function startLocalRealtime({ config, env, stops, log }: LocalRealtimeOptions): Promise<string> {
  if (!config.AWS_ENDPOINT_URL && !env.AWS_ENDPOINT_URL_DYNAMODB) {
    const dynamo = await startStandIn("dynamodb", config.EVENTBUS_DYNAMODB_PORT, log);
    stops.push({ name: "dynamodb", stop: dynamo.stop });
    env.AWS_ENDPOINT_URL_DYNAMODB = dynamo.endpoint;
    log(`DynamoDB      ${dynamo.endpoint} (dynalite, in memory)`);
  }
  const dynamoClient = new DynamoDBClient({ region: config.AWS_REGION });
  await createRealtimeTable(dynamoClient, config.EVENTBUS_REALTIME_TABLE);
  dynamoClient.destroy();

  const { loadLocalWsRoutes } = await import("../../functions/ws/localRoutes.ts");
  const gateway = await startWsGateway({ routes: await loadLocalWsRoutes(), port: config.EVENTBUS_WS_PORT });
  stops.push({ name: "websocket gateway", stop: gateway.stop });
  env.EVENTBUS_WS_MANAGEMENT_ENDPOINT = gateway.managementEndpoint;

  const queueUrl = env.EVENTBUS_REALTIME_QUEUE_URL;
  if (queueUrl) {
    const broadcaster = await startTsWorker(
      new URL("./broadcasterWorker.ts", import.meta.url),
      { queueUrl, region: config.AWS_REGION },
      env,
      (message) => log(`broadcaster: ${message}`),
    );
    stops.push({ name: "broadcaster", stop: broadcaster.stop });
  } else {
    log("realtime fan-out queue not configured (EVENTBUS_REALTIME_QUEUE_URL): no live events or publishes");
  }
  log(`WebSocket API ${gateway.url}  (management ${gateway.managementEndpoint}/@connections)`);
  return gateway.url;
}
