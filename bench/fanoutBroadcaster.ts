/**
 * One broadcaster "execution environment" of `bench:fanout`: the unmodified Lambda handler behind the local
 * SQS event source, in a process of its own, so that several of them post in parallel as concurrent Lambda
 * invocations do (each in its own environment). Answers `{cmd: "cpu"}` with the CPU it has used; stops
 * polling on `{cmd: "stop"}`.
 */

import { SQSClient } from "@aws-sdk/client-sqs";
import { startSqsPoller } from "../lib/local/sqsPoller.ts";

// A clean exit on SIGTERM, so that a process run with `--cpu-prof` writes its profile; and with the
// bench, should it die without stopping its children.
process.on("SIGTERM", () => process.exit(0));
process.on("disconnect", () => process.exit(0));

const { handler } = await import("../functions/realtime/broadcaster.ts");
const sqs = new SQSClient({ region: process.env.AWS_REGION, useQueueUrlAsEndpoint: false });
const poller = startSqsPoller({
  sqs,
  queueUrl: process.env.EVENTBUS_REALTIME_QUEUE_URL!,
  handler,
  waitTimeSeconds: 1,
});
process.on("message", async (message: { cmd: string }) => {
  if (message.cmd === "cpu") {
    const usage = process.cpuUsage();
    process.send!({ ok: true, ms: (usage.user + usage.system) / 1000 });
  } else {
    await poller.stop();
    process.send!({ ok: true });
  }
});
process.send!({ ok: true, ready: true });
