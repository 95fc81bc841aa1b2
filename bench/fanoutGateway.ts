/**
 * The WebSocket gateway stand-in of `bench:fanout`, with the route handlers it invokes, in a process of its
 * own: on AWS, API Gateway is not in the broadcaster Lambda's process either, so the two should not share
 * one event loop here. `{cmd: "start", port}` answers `{url}` once listening; `{cmd: "cpu"}` the CPU it
 * has used. The bench kills the process when done.
 */
import { startWsGateway } from "../lib/local/wsGateway.ts";

// A clean exit on SIGTERM, so that a process run with `--cpu-prof` writes its profile; and with the
// bench, should it die without stopping its children.
process.on("SIGTERM", () => process.exit(0));
process.on("disconnect", () => process.exit(0));

const { loadLocalWsRoutes } = await import("../functions/ws/localRoutes.ts");
process.on("message", async (message: { cmd: string; port?: number }) => {
  if (message.cmd === "cpu") {
    const usage = process.cpuUsage();
    process.send!({ ok: true, ms: (usage.user + usage.system) / 1000 });
    return;
  }
  const gateway = await startWsGateway({ routes: await loadLocalWsRoutes(), port: message.port! });
  process.send!({ ok: true, url: gateway.url });
});
process.send!({ ok: true, ready: true });
