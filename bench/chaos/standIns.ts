/**
 * The AWS stand-ins of a chaos run (fauxqs for SQS, dynalite for DynamoDB) in a process of their own: they
 * keep queues and tables in memory, and a soak should judge the bus's memory, not theirs. Prints one JSON
 * line with both endpoints, reports its own memory over IPC like the listener (see `probe.ts`), and stops
 * on SIGTERM.
 */
import { startDynamoServer } from "../../lib/local/dynamoServer.ts";
import { startSqsServer } from "../../lib/local/sqsServer.ts";
import "./probe.ts";

const sqs = await startSqsServer({ port: 0 });
const dynamo = await startDynamoServer({ port: 0 });
process.stdout.write(`${JSON.stringify({ sqs: sqs.endpoint, dynamo: dynamo.endpoint })}\n`);
process.on("SIGTERM", () => {
  void Promise.all([sqs.stop(), dynamo.stop()]).finally(() => process.exit(0));
});
