/**
 * Preloaded into the listener child (`node --import tsx --import ./bench/chaos/probe.ts …`) so the chaos
 * run can read the child's memory and open handles over the IPC channel without any hook in product code.
 */
import { takeSample } from "./memory.ts";

if (process.send) {
  process.on("message", (message: { type?: string; id?: number }) => {
    if (message?.type !== "probe") return;
    process.send?.({ type: "probe", id: message.id, sample: takeSample() });
  });
  // The channel must not keep the listener alive on its own: SIGTERM and crashes behave as without it.
  process.channel?.unref();
}
