import { createSocket } from "node:dgram";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { xrayDaemonSink } from "../../lib/tracing/xrayDaemon.ts";
import { recordSentEntries, useListenerHarness } from "../listener/support.ts";

/*
 * The listener's hop in X-Ray: a UDP server stands in for the X-Ray daemon and receives what the listener
 * sends it, in the daemon's protocol (a JSON header line, then the segment document).
 */
const daemon = createSocket("udp4");
const datagrams: string[] = [];
daemon.on("message", (message) => datagrams.push(message.toString()));
await new Promise<void>((resolve) => daemon.bind(0, "127.0.0.1", resolve));
const sink = xrayDaemonSink(`tcp:127.0.0.1:1 udp:127.0.0.1:${(daemon.address() as AddressInfo).port}`);

const harness = useListenerHarness("xray", { tracing: sink });
const sentEntries = recordSentEntries(harness.sqs);
afterAll(() => {
  sink.close();
  daemon.close();
});

const SAMPLED = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const NOT_SAMPLED = "00-1af7651916cd43dd8448eb211c80319c-c7ad6b7169203331-00";

describe("listener segments", () => {
  it("records its hop of each sampled trace, as the parent of the consumer's", async () => {
    await harness.subscribe("xray", { filter: { type: ["Hop"] } });
    const before = Date.now() / 1000;
    const { events } = await appendToStream(harness.db.sql, "xray-1", [
      { type: "Hop", attributes: { traceparent: SAMPLED } },
      { type: "Hop", attributes: { traceparent: NOT_SAMPLED } },
      { type: "Hop" },
    ]);
    await expect.poll(() => datagrams.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(1);
    await new Promise((resolve) => setTimeout(resolve, 300)); // nothing more arrives
    expect(datagrams).toHaveLength(1);
    const [header, body] = datagrams[0]!.split("\n") as [string, string];
    expect(JSON.parse(header)).toEqual({ format: "json", version: 1 });
    const segment = JSON.parse(body);
    expect(segment).toMatchObject({
      name: "eventbus-listener",
      trace_id: "1-0af76519-16cd43dd8448eb211c80319c",
      parent_id: "b7ad6b7169203331",
      origin: "AWS::ECS::Container",
      annotations: { subscription: "xray", position: String(events[0]!.position), streamid: "xray-1" },
    });
    expect(segment.id).toMatch(/^[0-9a-f]{16}$/);
    expect(segment.start_time).toBeGreaterThanOrEqual(before - 1);
    expect(segment.end_time).toBeGreaterThanOrEqual(segment.start_time);
    expect(segment.error).toBeUndefined();

    // The message continues the trace under the listener's segment; unsampled traces keep their parent.
    const headers = sentEntries
      .filter((e) => e.MessageBody?.includes('"streamid":"xray-1"'))
      .map((e) => e.MessageSystemAttributes?.AWSTraceHeader?.StringValue);
    expect(headers).toEqual([
      `Root=1-0af76519-16cd43dd8448eb211c80319c;Parent=${segment.id};Sampled=1`,
      "Root=1-1af76519-16cd43dd8448eb211c80319c;Parent=c7ad6b7169203331;Sampled=0",
      undefined,
    ]);
  });
});

it("refuses an X-Ray daemon address that is not host:port", () => {
  for (const address of ["", "localhost", "udp:127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000"]) {
    expect(() => xrayDaemonSink(address), address).toThrow(/not host:port/);
  }
  xrayDaemonSink("127.0.0.1:2000").close();
});
