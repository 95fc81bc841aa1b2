import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { transientDatabaseError } from "../../lib/db/transientErrors.ts";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { startTestHttpApi, type TestHttpApi } from "../support/httpApi.ts";

// Issue 9, "blocked appends": an append waiting on a lock held by an application's open (outbox)
// transaction used to get a 500 after ~29 s and could still commit afterwards. With the runtime's
// lock_timeout it fails fast with 503 + Retry-After, leaves nothing behind, and a retry succeeds once.

const LOCK_TIMEOUT_MS = 500;
let api: TestHttpApi;
beforeAll(async () => {
  api = await startTestHttpApi({ EVENTBUS_DB_LOCK_TIMEOUT_MS: String(LOCK_TIMEOUT_MS) });
});
afterAll(async () => {
  await api.close();
  // Test files may share a worker process: leave no short timeout behind for the next one.
  delete process.env.EVENTBUS_DB_LOCK_TIMEOUT_MS;
});

/** Opens a transaction that appends to `streamId` through appendToStream and stays open until released. */
function openOutboxTransaction(streamId: string) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let appended!: () => void;
  const holding = new Promise<void>((resolve) => {
    appended = resolve;
  });
  const committed = api.db.sql.begin(async (tx) => {
    await appendToStream(tx, streamId, [{ id: "outbox-1", type: "OrderPaid", data: { by: "app" } }]);
    appended();
    await released;
  });
  return { holding, release, committed };
}

describe("an append blocked by an open outbox transaction on the same stream", () => {
  it("gets 503 UNAVAILABLE with Retry-After within the lock timeout, stores nothing, and a retry succeeds once", async () => {
    const outbox = openOutboxTransaction("orders-500");
    await outbox.holding;
    const body = [
      { id: "http-1", type: "OrderShipped" },
      { id: "http-2", type: "OrderDelivered" },
    ];

    const started = Date.now();
    const blocked = await api.request("POST", "/streams/orders-500/events", { body });
    const waited = Date.now() - started;
    expect(blocked.status).toBe(503);
    expect(blocked.headers.get("retry-after")).toBe("1");
    expect(blocked.body).toMatchObject({ code: "UNAVAILABLE", status: 503, retryAfterSeconds: 1 });
    expect(JSON.stringify(blocked.body)).not.toMatch(/lock|eventbus\.|select |55P03|stack/i);
    expect(waited).toBeGreaterThanOrEqual(LOCK_TIMEOUT_MS - 50);
    expect(waited).toBeLessThan(10_000);

    // Appends to other streams do not wait for it at all.
    const elsewhere = await api.request("POST", "/streams/orders-501/events", { body: { type: "A" } });
    expect(elsewhere.status).toBe(201);

    outbox.release();
    await outbox.committed;
    const afterCommit = await api.request("GET", "/streams/orders-500/events");
    expect(afterCommit.body.events.map((e: any) => e.id)).toEqual(["outbox-1"]);

    const retry = await api.request("POST", "/streams/orders-500/events", { body });
    expect(retry.status).toBe(201);
    expect(retry.body.events.map((e: any) => e.version)).toEqual([2, 3]);
    const again = await api.request("POST", "/streams/orders-500/events", { body });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(retry.body);
    const read = await api.request("GET", "/streams/orders-500/events");
    expect(read.body.events.map((e: any) => e.id)).toEqual(["outbox-1", "http-1", "http-2"]);
  });
});

describe("transientDatabaseError", () => {
  it("maps a real statement_timeout cancellation to UNAVAILABLE and keeps other errors", async () => {
    const timedOut = await api.db.sql
      .begin(async (tx) => {
        await tx`set local statement_timeout = 50`;
        await tx`select pg_sleep(2)`;
      })
      .catch((error: unknown) => error);
    expect((timedOut as { code?: string }).code).toBe("57014");
    const mapped = transientDatabaseError(timedOut);
    expect(mapped).toMatchObject({ code: "UNAVAILABLE", status: 503, details: { retryAfterSeconds: 1 } });
    expect(mapped?.message).not.toMatch(/statement|cancel/i);

    const syntax = await api.db.sql`select from nowhere_at_all`.catch((error: unknown) => error);
    expect(transientDatabaseError(syntax)).toBeUndefined();
    expect(transientDatabaseError(new Error("boom"))).toBeUndefined();
  });
});
