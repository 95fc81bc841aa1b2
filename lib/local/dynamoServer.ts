import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import dynalite from "dynalite";

export interface RunningDynamo {
  /** The endpoint the AWS SDK should use, e.g. `http://127.0.0.1:4003`. */
  endpoint: string;
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
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
