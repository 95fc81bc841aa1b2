/**
 * The SQS stand-in in a process of its own, so that in `bench:deliver` it does not share an event loop with
 * the listener it measures (real SQS is another machine). Prints its endpoint on the first line of stdout.
 */
import { startSqsServer } from "../lib/local/sqsServer.ts";

const server = await startSqsServer({ port: 0 });
process.stdout.write(`${server.endpoint}\n`);
process.on("SIGTERM", () => void server.stop().then(() => process.exit(0)));
