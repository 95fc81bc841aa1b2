import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RealtimeHarness, startRealtimeHarness, type TestClient } from "./support.ts";

let h: RealtimeHarness;
beforeAll(async () => {
  h = await startRealtimeHarness();
});
afterAll(() => h?.close());

async function append(streamId: string, count: number, type = "Tick"): Promise<number[]> {
  const events = Array.from({ length: count }, (_, i) => ({ type, data: { i } }));
  const response = await h.api.request("POST", `/streams/${streamId}/events`, { body: events });
  expect(response.status).toBe(201);
  return response.body.events.map((e: { position: number | string }) => Number(e.position));
}

/** Positions received on `topic`, in arrival order, until `count` have arrived. */
async function positions(
  client: TestClient,
  topic: string,
  count: number,
  timeoutMs = 10_000,
): Promise<number[]> {
  const seen: number[] = [];
  while (seen.length < count) {
    const frame = await client.next((f) => f.type === "events" && f.topic === topic, timeoutMs);
    // CloudEvents carry the position as a decimal string.
    seen.push(...frame.events.map((e: { position: string }) => Number(e.position)));
  }
  return seen;
}

describe("subscribe with from", () => {
  it("sends the history from that position after the ack, then live events", async () => {
    const before = await append("resume-1", 5);
    const client = await h.connect();
    const id = "r1";
    client.send({ action: "subscribe", id, topic: "stream:resume-1", from: before[2] });
    const ack = await client.next();
    expect(ack).toEqual({ type: "ack", id });
    expect(await positions(client, "stream:resume-1", 3)).toEqual(before.slice(2));
    const live = await append("resume-1", 2);
    expect(await positions(client, "stream:resume-1", 2)).toEqual(live);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(client.frames).toEqual([]);
  });

  it("applies the filter to the history too", async () => {
    await h.api.request("POST", "/streams/filtered-1/events", {
      body: [
        { type: "Keep", data: { n: 1 } },
        { type: "Drop", data: { n: 2 } },
        { type: "Keep", data: { n: 3 } },
      ],
    });
    const client = await h.connect();
    await client.request({
      action: "subscribe",
      topic: "category:filtered",
      from: 0,
      filter: { type: ["Keep"] },
    });
    const frame = await client.next((f) => f.type === "events");
    expect(frame.events.map((e: any) => e.data.n)).toEqual([1, 3]);
  });

  it("has no gap and no duplicate while appends race the subscription", async () => {
    const start = (await append("race-1", 1))[0]!;
    const writers = Array.from({ length: 4 }, (_, w) => `race-${w + 1}`);
    let writing = true;
    const appended: number[] = [start];
    const load = Promise.all(
      writers.map(async (streamId) => {
        while (writing) appended.push(...(await append(streamId, 3)));
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 150));

    // Several clients subscribe at different moments of the burst, each from the same start position.
    const clients: TestClient[] = [];
    for (let i = 0; i < 4; i++) {
      const client = await h.connect();
      const ack = await client.request({ action: "subscribe", topic: "category:race", from: start }, 15_000);
      expect(ack.type).toBe("ack");
      clients.push(client);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    writing = false;
    await load;
    const expected = [...appended].sort((a, b) => a - b);
    expect(expected.length).toBeGreaterThan(40);

    for (const client of clients) {
      const seen = await positions(client, "category:race", expected.length, 15_000);
      expect(seen).toEqual(expected); // every position once, in order: history, then live
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const client of clients) expect(client.frames).toEqual([]);
  });

  it("refuses a from more than 10,000 events back before sending anything", async () => {
    for (let i = 0; i < 11; i++) await append(`bulk-${i}`, 1000, "Bulk");
    const client = await h.connect();
    const error = await client.request({ action: "subscribe", topic: "category:bulk", from: 0 });
    expect(error).toMatchObject({ type: "error", code: "VALIDATION_FAILED" });
    expect(error.message).toContain("GET /events");
    expect(client.frames).toEqual([]);
    // The refused subscription left nothing behind: later events are not delivered.
    await append("bulk-0", 1, "Bulk");
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(client.frames).toEqual([]);
  });
});
