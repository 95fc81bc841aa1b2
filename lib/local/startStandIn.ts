import { freePort } from "./embeddedPostgres.ts";
import { startTsWorker } from "./tsWorker.ts";

/**
 * Starts an AWS stand-in (`sqs`: fauxqs, `dynamodb`: dynalite, both in memory) on loopback in a worker
 * thread of its own (see standInWorker.ts) and resolves with its endpoint. `port: 0` picks a free one.
 */
export async function startStandIn(
  kind: "sqs" | "dynamodb",
  port: number,
  log: (message: string) => void,
): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const chosen = port === 0 ? await freePort() : port;
  const worker = await startTsWorker(
    new URL("./standInWorker.ts", import.meta.url),
    { kind, port: chosen },
    process.env,
    (message) => log(`${kind}: ${message}`),
  );
  return { endpoint: `http://127.0.0.1:${chosen}`, stop: worker.stop };
}
