/**
 * The WebSocket gateway stand-in of `bench:fanout`, with the route handlers it invokes, in a worker thread
 * of its own: on AWS, API Gateway is not in the broadcaster Lambda's process either, so the two should not
 * share one event loop here. Started with `{port}`; answers `{url}` once listening; the bench terminates the thread when done.
 */
import { parentPort as workerPort } from "node:worker_threads";

type Listener = (message: any) => void;
/** The parent, whether this module runs in a worker thread or in a child process (`fork`). */
const parentPort = workerPort ?? {
  postMessage: (message: unknown) => process.send!(message),
  on: (_event: "message", listener: Listener) => process.on("message", listener),
  once: (_event: "message", listener: Listener) => process.once("message", listener),
};

import { startWsGateway } from "../lib/local/wsGateway.ts";

const { loadLocalWsRoutes } = await import("../functions/ws/localRoutes.ts");
parentPort!.once("message", async (message: { port: number }) => {
  const gateway = await startWsGateway({ routes: await loadLocalWsRoutes(), port: message.port });
  parentPort!.postMessage({ ok: true, url: gateway.url });
});
