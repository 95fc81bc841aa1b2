import { afterAll, beforeAll, expect, it } from "vitest";
import { type RealtimeHarness, startRealtimeHarness } from "./support.ts";

// API Gateway's 10-minute idle and 2-hour age limits, shortened.
let h: RealtimeHarness;
beforeAll(async () => {
  h = await startRealtimeHarness({ idleTimeoutMs: 600, maxConnectionMs: 1500 });
});
afterAll(() => h?.close());

it("closes a connection that sends nothing within the idle timeout", async () => {
  const idle = await h.connect();
  const opened = Date.now();
  expect((await idle.waitClosed(4000)).code).toBe(1001);
  expect(Date.now() - opened).toBeGreaterThanOrEqual(550);
});

it("closes an active connection once it reaches the maximum age", async () => {
  const chatty = await h.connect();
  const opened = Date.now();
  const timer = setInterval(() => chatty.send({ action: "ping" }), 100);
  try {
    expect((await chatty.waitClosed(4000)).code).toBe(1001);
  } finally {
    clearInterval(timer);
  }
  expect(Date.now() - opened).toBeGreaterThanOrEqual(1450);
  // Frames are handled one at a time per connection, so a busy machine answers fewer of them in time.
  expect(chatty.frames.filter((f) => f.type === "pong").length).toBeGreaterThan(2);
});
