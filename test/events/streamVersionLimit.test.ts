import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendToStream, MAX_STREAM_VERSION } from "../../lib/events/appendToStream.ts";
import { toCloudEvent } from "../../lib/events/cloudEvent.ts";
import { readStream } from "../../lib/events/readStream.ts";
import { parseStrict } from "../cloudevents/conformance.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startTestHttpApi, type TestHttpApi } from "../support/httpApi.ts";

let db: TestDatabase;
let api: TestHttpApi;
beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestHttpApi();
});
afterAll(async () => {
  await db.close();
  await api?.close();
});

/**
 * A stream whose version is `version`: one real event, then moved near the limit directly in SQL (appending
 * two billion events is not a test; a stream's version is its newest event's).
 */
async function streamAt(sql: TestDatabase["sql"], streamId: string, version: number) {
  await appendToStream(sql, streamId, [{ id: "first", type: "First", attributes: { source: "urn:t" } }]);
  await sql`update eventbus.events set version = ${version} where stream_id = ${streamId}`;
}

const limitRefusal = (streamId: string, version: number, events = 1) => ({
  code: "PAYLOAD_TOO_LARGE",
  status: 413,
  details: { streamId, version, events, maxStreamVersion: MAX_STREAM_VERSION },
});

describe("a stream's version never passes 2,147,483,647 (streamversion is a CloudEvents Integer)", () => {
  it.each([
    ["any", "any" as const],
    ["stream_exists", "stream_exists" as const],
    ["the exact version", "exact" as const],
  ])("fresh ids, expectedVersion %s: the last version is taken, the next one refused", async (_, mode) => {
    const streamId = `limit-fresh-${mode}`;
    await streamAt(db.sql, streamId, MAX_STREAM_VERSION - 2);
    const expected = (v: number) => (mode === "exact" ? v : mode);
    await expect(
      appendToStream(db.sql, streamId, [{ type: "A" }, { type: "B" }, { type: "C" }], {
        expectedVersion: expected(MAX_STREAM_VERSION - 2),
      }),
    ).rejects.toMatchObject(limitRefusal(streamId, MAX_STREAM_VERSION - 2, 3));
    const last = await appendToStream(db.sql, streamId, [{ type: "A" }, { type: "B" }], {
      expectedVersion: expected(MAX_STREAM_VERSION - 2),
    });
    expect(last.version).toBe(MAX_STREAM_VERSION);
    await expect(
      appendToStream(db.sql, streamId, [{ type: "C" }], { expectedVersion: expected(MAX_STREAM_VERSION) }),
    ).rejects.toMatchObject(limitRefusal(streamId, MAX_STREAM_VERSION));
    // Nothing moved: the stream and its events are as the last successful append left them.
    const page = await readStream(db.sql, streamId, { direction: "backward", limit: 2 });
    expect(page.version).toBe(MAX_STREAM_VERSION);
    expect(page.events.map((e) => [e.version, e.type])).toEqual([
      [MAX_STREAM_VERSION, "B"],
      [MAX_STREAM_VERSION - 1, "A"],
    ]);
    // The highest version is still a valid CloudEvent for a strict consumer.
    parseStrict(toCloudEvent(page.events[0]!) as never);
  });

  it("a wrong expected version near the limit is still a wrong expected version", async () => {
    await streamAt(db.sql, "limit-wrong", MAX_STREAM_VERSION);
    await expect(
      appendToStream(db.sql, "limit-wrong", [{ type: "A" }], { expectedVersion: 5 }),
    ).rejects.toMatchObject({
      code: "WRONG_EXPECTED_VERSION",
      details: { actualVersion: MAX_STREAM_VERSION },
    });
  });

  it("caller ids (the PL/pgSQL append) are refused the same way, inside a transaction too", async () => {
    await streamAt(db.sql, "limit-ids", MAX_STREAM_VERSION - 1);
    await expect(
      appendToStream(db.sql, "limit-ids", [
        { id: "a", type: "A" },
        { id: "b", type: "B" },
      ]),
    ).rejects.toMatchObject(limitRefusal("limit-ids", MAX_STREAM_VERSION - 1, 2));
    const last = await appendToStream(db.sql, "limit-ids", [{ id: "a", type: "A" }]);
    expect(last.version).toBe(MAX_STREAM_VERSION);
    // A retry of what filled the stream is still an idempotent success.
    await expect(appendToStream(db.sql, "limit-ids", [{ id: "a", type: "A" }])).resolves.toMatchObject({
      created: false,
      version: MAX_STREAM_VERSION,
    });
    // The refusal is an outcome, not an SQL error: the caller's transaction goes on and commits.
    await db.sql.begin(async (tx) => {
      await expect(appendToStream(tx, "limit-ids", [{ id: "c", type: "C" }])).rejects.toMatchObject(
        limitRefusal("limit-ids", MAX_STREAM_VERSION),
      );
      await expect(appendToStream(tx, "limit-ids", [{ type: "D" }])).rejects.toMatchObject(
        limitRefusal("limit-ids", MAX_STREAM_VERSION),
      );
      await appendToStream(tx, "limit-ids-other", [{ id: "x", type: "X" }]);
    });
    expect((await readStream(db.sql, "limit-ids-other")).version).toBe(1);
    expect((await readStream(db.sql, "limit-ids")).version).toBe(MAX_STREAM_VERSION);
  });

  it("over HTTP: 413 PAYLOAD_TOO_LARGE naming the stream, its version and the limit", async () => {
    await streamAt(api.db.sql, "limit-http", MAX_STREAM_VERSION);
    const res = await api.request("POST", "/streams/limit-http/events", { body: { type: "A" } });
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({
      status: 413,
      code: "PAYLOAD_TOO_LARGE",
      streamId: "limit-http",
      version: MAX_STREAM_VERSION,
      maxStreamVersion: MAX_STREAM_VERSION,
    });
    expect(res.body.detail).toMatch(/past version 2147483647/);
    const ce = await api.request("POST", "/streams/limit-http/events", {
      contentType: "application/cloudevents+json",
      body: { specversion: "1.0", id: "x", source: "urn:t", type: "A" },
    });
    expect(ce.status).toBe(413);
  });
});
