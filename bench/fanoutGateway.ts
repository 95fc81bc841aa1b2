/**
 * The WebSocket gateway stand-in of `bench:fanout`, with the route handlers it invokes, in a worker thread
 * of its own: on AWS, API Gateway is not in the broadcaster Lambda's process either, so the two should not
 * share one event loop here. Started with `{port}`; answers `{url}` once listening; the bench terminates the thread when done.
 */
import { parentPort } from "node:worker_threads";
import { startWsGateway } from "../lib/local/wsGateway.ts";

const { loadLocalWsRoutes } = await import("../functions/ws/localRoutes.ts");
parentPort!.once("message", async (message: { port: number }) => {
  const gateway = await startWsGateway({ routes: await loadLocalWsRoutes(), port: message.port });
  parentPort!.postMessage({ ok: true, url: gateway.url });
});
