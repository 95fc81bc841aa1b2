import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import dynalite from "dynalite";

export interface RunningDynamo {
  /** The endpoint the AWS SDK should use, e.g. `http://127.0.0.1:4003`. */
  endpoint: string;
  /** Requests served since the start (or the last `resetRequestCounts`), by operation (`Query`, ...). */
  requestCounts(): Record<string, number>;
  resetRequestCounts(): void;
  stop(): Promise<void>;
}

/**
 * Starts the embedded DynamoDB stand-in (`dynalite`, in memory) on loopback. `port: 0` picks a free one.
 * Tables become active at once. It supports the operations the bus uses: Get/Put/Update/DeleteItem,
 * Query and BatchWriteItem (not TransactWriteItems, which the bus therefore avoids).
 */
export async function startDynamoServer(options: { port: number; host?: string }): Promise<RunningDynamo> {
  const host = options.host ?? "127.0.0.1";
  const server: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  // What DynamoDB would bill as requests: the benchmark reports them per event.
  let counts: Record<string, number> = {};
  server.on("request", (req: { headers: Record<string, string | string[] | undefined> }) => {
    const target = String(req.headers["x-amz-target"] ?? "");
    const operation = target.slice(target.indexOf(".") + 1) || "unknown";
    counts[operation] = (counts[operation] ?? 0) + 1;
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://${host}:${port}`,
    requestCounts: () => ({ ...counts }),
    resetRequestCounts: () => {
      counts = {};
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
