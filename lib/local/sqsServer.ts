import { startFauxqs } from "fauxqs";

export interface RunningSqs {
  /** The endpoint the AWS SDK should use, e.g. `http://127.0.0.1:4002`. */
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts the embedded SQS stand-in (`fauxqs`, which speaks the SQS JSON protocol the AWS SDK v3 uses) on
 * loopback. `port: 0` picks a free port.
 */
export async function startSqsServer(options: { port: number }): Promise<RunningSqs> {
  const server = await startFauxqs({ port: options.port, host: "127.0.0.1", logger: false });
  return { endpoint: `http://127.0.0.1:${server.port}`, stop: () => server.stop() };
}
