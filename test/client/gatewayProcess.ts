/**
 * The WebSocket gateway stand-in with the real route handlers, alone in a process of its own, so that a
 * test can SIGKILL it as a crashed server dies: no close frames, no `$disconnect`, sockets reset by the
 * kernel. The handlers read their runtime from the environment the parent passes (as on Lambda). Prints
 * `ready` once listening on `GATEWAY_PORT`.
 */
import { loadLocalWsRoutes } from "../../functions/ws/localRoutes.ts";
import { startWsGateway } from "../../lib/local/wsGateway.ts";

const port = Number(process.env.GATEWAY_PORT);
await startWsGateway({ routes: await loadLocalWsRoutes(), port });
process.stdout.write("ready\n");
