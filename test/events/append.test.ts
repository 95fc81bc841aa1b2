import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { readStream } from "../../lib/events/readStream.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

describe("appendToStream", () => {
  it("assigns 1-based versions and increasing positions", async () => {
    const first = await appendToStream(db.sql, "orders-1", [{ type: "A" }, { type: "B", data: { n: 1 } }]);
    expect(first.version).toBe(2);
    expect(first.events.map((e) => e.version)).toEqual([1, 2]);
    const second = await appendToStream(db.sql, "orders-1", [{ type: "C" }], { expectedVersion: 2 });
    expect(second.events[0]!.version).toBe(3);
    expect(second.events[0]!.position).toBeGreaterThan(first.events[1]!.position);
    const page = await readStream(db.sql, "orders-1");
    expect(page.events.map((e) => e.type)).toEqual(["A", "B", "C"]);
    expect(page.events[1]!.data).toEqual({ n: 1 });
  });

  it("enforces expected versions", async () => {
    await expect(
      appendToStream(db.sql, "ev-1", [{ type: "A" }], { expectedVersion: "stream_exists" }),
    ).rejects.toMatchObject({
      code: "WRONG_EXPECTED_VERSION",
      details: { actualVersion: 0 },
    });
    await appendToStream(db.sql, "ev-1", [{ type: "A" }], { expectedVersion: "no_stream" });
    await expect(
      appendToStream(db.sql, "ev-1", [{ type: "B" }], { expectedVersion: "no_stream" }),
    ).rejects.toMatchObject({
      code: "WRONG_EXPECTED_VERSION",
      details: { expectedVersion: "no_stream", actualVersion: 1 },
    });
    await expect(
      appendToStream(db.sql, "ev-1", [{ type: "B" }], { expectedVersion: 0 }),
    ).rejects.toMatchObject({
      code: "WRONG_EXPECTED_VERSION",
    });
    await expect(
      appendToStream(db.sql, "ev-1", [{ type: "B" }], { expectedVersion: 1 }),
    ).resolves.toMatchObject({ version: 2 });
    await expect(
      appendToStream(db.sql, "ev-2", [{ type: "B" }], { expectedVersion: 0 }),
    ).resolves.toMatchObject({ version: 1 });
  });

  it("treats a retry with the same ids as an idempotent success", async () => {
    const events = [
      { id: "idem-1", type: "A" },
      { id: "idem-2", type: "B" },
    ];
    const first = await appendToStream(db.sql, "idem-1", events, { expectedVersion: "no_stream" });
    const retry = await appendToStream(db.sql, "idem-1", events, { expectedVersion: "no_stream" });
    expect(retry.created).toBe(false);
    expect(retry.events).toEqual(first.events);
    expect((await readStream(db.sql, "idem-1")).version).toBe(2);
    await expect(
      appendToStream(db.sql, "idem-1", [{ id: "idem-2", type: "B" }, { type: "C" }]),
    ).rejects.toMatchObject({
      code: "DUPLICATE_EVENT_ID",
    });
  });

  it("keeps event ids unique per stream, so a conflict never reveals another stream's events", async () => {
    await appendToStream(db.sql, "scoped-a", [{ id: "shared-id", type: "A" }]);
    // The same id in a stream the caller may not be able to see is not a conflict: nothing leaks.
    const other = await appendToStream(db.sql, "scoped-b", [{ id: "shared-id", type: "B" }]);
    expect(other.created).toBe(true);
    expect((await readStream(db.sql, "scoped-b")).events.map((e) => [e.id, e.type])).toEqual([
      ["shared-id", "B"],
    ]);
    expect((await readStream(db.sql, "scoped-a")).events.map((e) => [e.id, e.type])).toEqual([
      ["shared-id", "A"],
    ]);
  });

  it("commits and rolls back with the caller's transaction", async () => {
    await db.sql`create table if not exists orders (id int primary key, status text)`;
    await db.sql.begin(async (tx) => {
      await tx`insert into orders values (1, 'paid')`;
      await appendToStream(tx, "order-1", [{ type: "OrderPaid", data: { id: 1 } }]);
    });
    await expect(
      db.sql.begin(async (tx) => {
        await tx`insert into orders values (2, 'paid')`;
        await appendToStream(tx, "order-2", [{ type: "OrderPaid", data: { id: 2 } }]);
        throw new Error("domain rule failed");
      }),
    ).rejects.toThrow("domain rule failed");
    expect((await readStream(db.sql, "order-1")).events).toHaveLength(1);
    await expect(readStream(db.sql, "order-2")).rejects.toMatchObject({ code: "STREAM_NOT_FOUND" });
    expect(await db.sql`select id from orders order by id`).toEqual([{ id: 1 }]);
  });

  it("refuses invalid input before touching the database", async () => {
    await expect(appendToStream(db.sql, "-bad", [{ type: "A" }])).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
    await expect(appendToStream(db.sql, "ok-1", [])).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    await expect(appendToStream(db.sql, "ok-1", [{ type: "" }])).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
    await expect(appendToStream(db.sql, "ok-1", [{ type: "A", id: "has space" }])).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
    await expect(
      appendToStream(db.sql, "ok-1", [
        { type: "A", id: "x" },
        { type: "B", id: "x" },
      ]),
    ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    await expect(
      appendToStream(db.sql, "ok-1", [{ type: "A", data: "x".repeat(130_000) }]),
    ).rejects.toMatchObject({
      code: "PAYLOAD_TOO_LARGE",
    });
    await expect(readStream(db.sql, "ok-1")).rejects.toMatchObject({ code: "STREAM_NOT_FOUND" });
  });
});
