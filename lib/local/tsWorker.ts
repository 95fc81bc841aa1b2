import { Worker } from "node:worker_threads";
import { replayRecordings } from "../metrics/forwardMetrics.ts";
import { metrics } from "../metrics/registry.ts";

/**
 * Runs a TypeScript module of `npm run dev` in a worker thread (registering tsx's loader first, as the
 * parent runs under it) with `workerData` and the environment `env`. The module posts `{ready: true}`
 * once running, may post `{log}` lines, `{error}` messages and `{metrics}` batches (from
 * `forwardRecordings`, replayed into this thread's registry, which `/metrics` serves), and answers
 * `{stop: true}` with `{stopped: true}`. Resolves once it is ready; a failure before that rejects.
 */
export async function startTsWorker(
  moduleUrl: URL,
  workerData: unknown,
  env: Record<string, string | undefined>,
  log: (message: string) => void,
): Promise<{ stop(): Promise<void> }> {
  const worker = new Worker(
    `import("tsx/esm/api").then(({ register }) => { register(); return import(${JSON.stringify(moduleUrl.href)}); });`,
    { eval: true, workerData, env: { ...env } },
  );
  worker.on("message", (message: { log?: string; error?: string; metrics?: unknown }) => {
    if (message.log) log(message.log);
    if (message.error) log(message.error);
    if (message.metrics) replayRecordings(metrics, message.metrics);
  });
  await new Promise<void>((resolve, reject) => {
    const onReady = (message: { ready?: boolean }) => {
      if (!message.ready) return;
      worker.off("message", onReady);
      worker.off("error", reject);
      resolve();
    };
    worker.on("message", onReady);
    worker.once("error", reject);
  });
  worker.on("error", (error) => log(`worker failed: ${error.message}`));
  return {
    async stop() {
      const stopped = new Promise<void>((resolve) => {
        worker.on("message", (message: { stopped?: boolean }) => message.stopped && resolve());
        worker.once("exit", () => resolve());
      });
      worker.postMessage({ stop: true });
      await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      await worker.terminate();
    },
  };
}
