import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RealtimeHarness, startRealtimeHarness, type TestClient } from "../realtime/support.ts";

let h: RealtimeHarness;
beforeAll(async () => {
  h = await startRealtimeHarness();
});
afterAll(() => h?.close());

const append = async (streamId: string, events: Array<{ type: string; data?: unknown }>) => {
  const response = await h.api.request("POST", `/streams/${streamId}/events`, { body: events });
  expect(response.status).toBe(201);
};

/** The `n` of every event frame for `topic` that arrives within `ms`. */
async function received(client: TestClient, topic: string, ms = 1500): Promise<number[]> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return client.frames
    .splice(0)
    .filter((frame) => frame.type === "events" && frame.topic === topic)
    .flatMap((frame) => frame.events.map((e: { data: { n: number } }) => e.data.n));
}

const filter = {
  $or: [
    { type: [{ wildcard: "Item*Removed" }] },
    { data: { ip: [{ cidr: "10.0.0.0/24" }], sku: [{ "anything-but": { prefix: "tmp-" } }] } },
  ],
};
const events = [
  { type: "ItemAdded", data: { n: 1, ip: "10.0.0.9", sku: "a-1" } },
  { type: "ItemAdded", data: { n: 2, ip: "10.0.0.9", sku: "tmp-2" } },
  { type: "ItemSoftRemoved", data: { n: 3, ip: "192.168.0.1", sku: "tmp-3" } },
  { type: "ItemAdded", data: { n: 4, ip: "10.0.1.9", sku: "a-4" } },
];

describe("WebSocket subscriptions with the full pattern language", () => {
  it("deliver live events exactly as a persistent subscription would filter them", async () => {
    const client = await h.connect();
    expect(await client.request({ action: "subscribe", topic: "category:cart", filter })).toMatchObject({
      type: "ack",
    });
    await append("cart-1", events);
    expect(await received(client, "category:cart")).toEqual([1, 3]);
  });

  it("filter the history sent for `from` the same way", async () => {
    await append("basket-1", events);
    const client = await h.connect();
    const ack = await client.request({ action: "subscribe", topic: "category:basket", filter, from: 1 });
    expect(ack).toMatchObject({ type: "ack" });
    expect(await received(client, "category:basket")).toEqual([1, 3]);
  });

  it("refuse a malformed $or with an error frame naming the place and the rule", async () => {
    const client = await h.connect();
    const error = await client.request({
      action: "subscribe",
      topic: "$all",
      filter: { $or: [{ type: ["A"] }] },
    });
    expect(error).toMatchObject({ type: "error", code: "VALIDATION_FAILED" });
    expect(error.message).toContain("/$or $or must list at least two pattern objects");
  });
});
