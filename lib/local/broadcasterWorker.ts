/**
 * The broadcaster Lambda of `npm run dev` in a worker thread of its own, behind the local SQS event
 * source: on AWS it runs in its own execution environments, and here it would otherwise share the one
 * event loop that also serves HTTP appends (every event costs it a receive, a delete and a DynamoDB read
 * through the SDK). Started by `startLocalRealtime` with `workerData` `{queueUrl, region}`; stops on
 * `{stop: true}`. It reads its runtime from the environment it inherits, as on Lambda. What it records
 * (fan-out times, failed posts) goes to the main thread's `/metrics` as `{metrics}` batches.
 */
import { parentPort, workerData } from "node:worker_threads";
import { SQSClient } from "@aws-sdk/client-sqs";
import { forwardRecordings } from "../metrics/forwardMetrics.ts";
import { metrics } from "../metrics/registry.ts";
import { startSqsPoller } from "./sqsPoller.ts";

const { queueUrl, region } = workerData as { queueUrl: string; region: string };
const forwarding = forwardRecordings(metrics, (batch) => parentPort!.postMessage({ metrics: batch }));
const { handler } = await import("../../functions/realtime/broadcaster.ts");
const sqs = new SQSClient({ region, useQueueUrlAsEndpoint: false });
const poller = startSqsPoller({
  sqs,
  queueUrl,
  handler,
  region,
  waitTimeSeconds: 5,
  onError: (error) => parentPort!.postMessage({ error: (error as Error).message }),
});
parentPort!.postMessage({ ready: true });
parentPort!.on("message", async () => {
  await poller.stop();
  sqs.destroy();
  forwarding.stop();
  parentPort!.postMessage({ stopped: true });
});
