import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { toCloudEvent } from "../../lib/events/cloudEvent.ts";
import { readAll } from "../../lib/events/readAll.ts";
import { probeHead } from "../../lib/events/readSafeHead.ts";
import { cloudEventJson } from "../../lib/listener/cloudEventJson.ts";
import { readForwardPage } from "../../lib/subscriptions/readForwardPage.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

describe("the forwarded CloudEvent JSON", () => {
  it("is exactly the CloudEvent the rest of the bus produces", async () => {
    await appendToStream(db.sql, "shapes-1", [
      { type: "NoData" },
      { type: "Nested", data: { a: [1, 2.5, { b: null }], 'quote"d': "line\nbreak", emoji: "😀 ü" } },
      { type: "WithMetadata", data: "just a string", metadata: { traceId: "t-1", nested: { x: true } } },
      { type: "EmptyMetadata", data: [], metadata: {} },
      { id: "custom:id/1", type: 'Type "quoted"', data: 42 },
    ]);
    await db.sql`insert into eventbus.checkpoints (name, lock_id, position) values ('shape-test', 99, 0)`;
    await probeHead(db.sql);
    const page = await readForwardPage(db.sql, {
      name: "shape-test",
      lockPid: 0,
      limit: 100,
      where: db.sql`true`,
    });
    const { events } = await readAll(db.sql, { limit: 100 });
    expect(page!.events).toHaveLength(5);
    for (const [i, event] of page!.events.entries()) {
      expect(JSON.parse(cloudEventJson(event, "urn:src"))).toEqual(toCloudEvent(events[i]!, "urn:src"));
    }
  });
});
