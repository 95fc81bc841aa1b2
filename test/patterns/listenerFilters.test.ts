import { describe, expect, it } from "vitest";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { receiveEvents, useListenerHarness } from "../listener/support.ts";

const bus = useListenerHarness("patterns");

describe("subscriptions with the full pattern language", () => {
  it("forward exactly the events that match $or, wildcard, cidr, anything-but and ignore-case filters", async () => {
    const byOr = await bus.subscribe("by-or", {
      filter: {
        $or: [
          { type: ["OrderCancelled"] },
          { data: { ip: [{ cidr: "10.0.0.0/24" }], total: [{ numeric: [">=", 100] }] } },
        ],
      },
    });
    const byWildcard = await bus.subscribe("by-wildcard", {
      filter: { streamid: [{ wildcard: "orders-*-eu" }], type: [{ "anything-but": { suffix: "Paid" } }] },
    });
    const byCidr = await bus.subscribe("by-cidr", { filter: { data: { ip: [{ cidr: "2001:db8::/32" }] } } });
    const byCase = await bus.subscribe("by-case", {
      filter: {
        type: [{ "equals-ignore-case": "orderplaced" }],
        data: { tags: [{ prefix: { "equals-ignore-case": "GIFT" } }] },
      },
    });

    const append = (stream: string, type: string, data: unknown) =>
      appendToStream(bus.db.sql, stream, [{ type, data }]);
    await append("orders-1-eu", "OrderPlaced", { n: 1, ip: "10.0.0.33", total: 120, tags: ["gift-wrap"] });
    await append("orders-2-us", "OrderPlaced", { n: 2, ip: "10.0.0.34", total: 50 });
    await append("orders-3-eu", "OrderPaid", { n: 3, ip: "10.0.1.1", total: 500 });
    await append("orders-4-eu", "OrderCancelled", { n: 4, ip: "2001:db8::1" });
    await append("users-5", "ORDERPLACED", { n: 5, ip: "2001:db9::1", tags: ["x", "Gift"] });
    await append("orders-6-eu", "OrderShipped", { n: 6, ip: "10.0.0.7", total: 100 });

    const numbers = async (queueUrl: string, count: number) =>
      (await receiveEvents(bus.sqs, queueUrl, count, { settleMs: 500 }))
        .map((r) => (r.event.data as { n: number }).n)
        .sort((a, b) => a - b);
    expect(await numbers(byOr.queueUrl, 3)).toEqual([1, 4, 6]);
    expect(await numbers(byWildcard.queueUrl, 3)).toEqual([1, 4, 6]);
    expect(await numbers(byCidr.queueUrl, 1)).toEqual([4]);
    expect(await numbers(byCase.queueUrl, 2)).toEqual([1, 5]);
  });
});
