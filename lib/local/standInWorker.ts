/**
 * An AWS stand-in of `npm run dev` (fauxqs for SQS, dynalite for DynamoDB) in a worker thread of its own,
 * started by `startStandIn` with `workerData` `{kind, port}`. On AWS these services run elsewhere; on the
 * main thread they would share the one event loop that serves HTTP appends, so every page the listener
 * forwards (a DynamoDB read, SQS sends) would queue appends behind it. Stops on `{stop: true}`.
 */
import { parentPort, workerData } from "node:worker_threads";
import { startDynamoServer } from "./dynamoServer.ts";
import { startSqsServer } from "./sqsServer.ts";

const { kind, port } = workerData as { kind: "sqs" | "dynamodb"; port: number };
const server = kind === "sqs" ? await startSqsServer({ port }) : await startDynamoServer({ port });
parentPort!.postMessage({ ready: true });
parentPort!.on("message", async (message: { stop?: boolean }) => {
  if (!message.stop) return;
  await server.stop();
  parentPort!.postMessage({ stopped: true });
});
