import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listStreams, type StreamSummary } from "../../lib/console/listStreams.ts";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  for (const stream of ["a-1", "a-2", "a-3", "a-4", "a-5", "a-6", "a-7", "a-8", "b-1", "c-1"]) {
    await appendToStream(db.sql, stream, [{ type: "T" }, { type: "T" }]);
  }
});
afterAll(() => db.close());

/** Every page until `next` is null, with the options of the first. */
async function allPages(options: Parameters<typeof listStreams>[1]) {
  const pages: StreamSummary[][] = [];
  let after: string | undefined;
  for (let round = 0; round < 50; round++) {
    const page = await listStreams(db.sql, { ...options, ...(after ? { after } : {}) });
    pages.push(page.streams);
    if (page.next === null) return pages;
    after = page.next;
  }
  throw new Error("listing never ended");
}

describe("listing streams", () => {
  it("lists every stream once, in id order, with its version, page after page", async () => {
    const pages = await allPages({ limit: 4 });
    expect(pages.map((page) => page.map((s) => s.streamId))).toEqual([
      ["a-1", "a-2", "a-3", "a-4"],
      ["a-5", "a-6", "a-7", "a-8"],
      ["b-1", "c-1"],
    ]);
    expect(pages.flat().every((s) => s.version === 2 && s.category === s.streamId[0])).toBe(true);
  });

  it("stops a page that walked its share of streams, and the next page carries on after it", async () => {
    const pages = await allPages({ limit: 10, category: "b", maxScanned: 3 });
    // Three streams walked per page: a-1..a-3, a-4..a-6, a-7..b-1 (b-1 kept), then c-1 and the end.
    expect(pages.map((page) => page.map((s) => s.streamId))).toEqual([[], [], ["b-1"], []]);
    const filtered = await allPages({
      limit: 10,
      prefix: "a-",
      streamPatterns: ["a-2", "a-7", "c-*"],
      maxScanned: 4,
    });
    expect(filtered.flat().map((s) => s.streamId)).toEqual(["a-2", "a-7"]);
  });
});
