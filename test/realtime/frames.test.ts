import { describe, expect, it } from "vitest";
import type { EventBusCloudEvent } from "../../lib/events/types.ts";
import { limits } from "../../lib/limits.ts";
import { eventFrames, frameBytes } from "../../lib/realtime/postFrame.ts";
import { parseTopic, wildcardOf } from "../../lib/realtime/topic.ts";

const event = (position: number, bytes: number): EventBusCloudEvent => ({
  specversion: "1.0",
  id: `e${position}`,
  source: "urn:eventbus",
  type: "T",
  time: new Date(0).toISOString(),
  subject: "s-1",
  datacontenttype: "application/json",
  data: "x".repeat(bytes),
  streamid: "s-1",
  streamversion: position,
  position: String(position),
});

describe("eventFrames", () => {
  it("splits events into frames under API Gateway's 128 KB, keeping order", () => {
    const events = Array.from({ length: 10 }, (_, i) => event(i + 1, 40 * 1024));
    const frames = eventFrames("$all", events);
    expect(frames.length).toBeGreaterThan(3);
    for (const frame of frames)
      expect(frameBytes(frame)).toBeLessThanOrEqual(limits.maxWebSocketMessageBytes);
    expect(frames.flatMap((f) => (f.type === "events" ? f.events.map((e) => e.position) : []))).toEqual(
      events.map((e) => e.position),
    );
  });

  it("sends the largest event an append accepts in a frame of its own", () => {
    const frames = eventFrames("stream:s-1", [event(1, limits.maxEventBytes - 400), event(2, 10 * 1024)]);
    expect(frames).toHaveLength(2);
    expect(frameBytes(frames[0]!)).toBeLessThanOrEqual(limits.maxWebSocketMessageBytes);
  });
});

describe("parseTopic", () => {
  it("recognises each kind of topic and refuses malformed names", () => {
    expect(parseTopic("stream:orders-42")).toEqual({
      kind: "stream",
      name: "stream:orders-42",
      streamId: "orders-42",
    });
    expect(parseTopic("category:orders")).toMatchObject({ kind: "category", category: "orders" });
    expect(parseTopic("$all")).toEqual({ kind: "all", name: "$all" });
    expect(parseTopic("room:lobby")).toEqual({ kind: "ephemeral", name: "room:lobby" });
    for (const bad of ["", "$other", "a#b", "stream:", "category:a-b", "x".repeat(201), "room lobby"]) {
      expect(() => parseTopic(bad), bad).toThrow(expect.objectContaining({ code: "VALIDATION_FAILED" }));
    }
  });
  it("recognises a wildcard as an ephemeral prefix followed by '.*', and names the one topic it covers", () => {
    expect(parseTopic("room:lobby.*")).toEqual({
      kind: "wildcard",
      name: "room:lobby.*",
      prefix: "room:lobby",
    });
    for (const bad of [
      "room:*.a",
      "room:lobby*",
      "*",
      ".*",
      "room.**",
      "a.*.*",
      "stream:x-*",
      "category:*",
    ]) {
      expect(() => parseTopic(bad), bad).toThrow(expect.objectContaining({ code: "VALIDATION_FAILED" }));
    }
    expect(wildcardOf("room:lobby.a")).toBe("room:lobby.*");
    expect(wildcardOf("a.b.c")).toBe("a.b.*");
    expect(wildcardOf("room:lobby")).toBeUndefined();
    expect(wildcardOf("room:lobby.")).toBeUndefined();
  });
});
