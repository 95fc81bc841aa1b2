/**
 * One broadcaster "execution environment" of `bench:fanout`: the unmodified Lambda handler behind the local
 * SQS event source, in a worker thread, so that several of them post in parallel as concurrent Lambda
 * invocations do. Stops on `{stop: true}`.
 */

import { parentPort } from "node:worker_threads";
import { SQSClient } from "@aws-sdk/client-sqs";
import { startSqsPoller } from "../lib/local/sqsPoller.ts";

const { handler } = await import("../functions/realtime/broadcaster.ts");
const sqs = new SQSClient({ region: process.env.AWS_REGION, useQueueUrlAsEndpoint: false });
const poller = startSqsPoller({
  sqs,
  queueUrl: process.env.EVENTBUS_REALTIME_QUEUE_URL!,
  handler,
  waitTimeSeconds: 1,
});
parentPort!.postMessage({ ok: true });
parentPort!.on("message", async () => {
  await poller.stop();
  parentPort!.postMessage({ ok: true });
});
