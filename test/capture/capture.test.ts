import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CaptureReader, startCaptureReader } from "../../lib/capture/startCaptureReader.ts";
import { createSql, type Sql } from "../../lib/db/client.ts";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { spawnListener } from "../listener/support.ts";
import { startTestHttpApi, type TestHttpApi } from "../support/httpApi.ts";

let api: TestHttpApi;
let app: Sql; // the application's own connection, as psql would be
let readerSql: Sql;
let reader: CaptureReader | undefined;

const startReader = () => {
  reader = startCaptureReader({
    sql: readerSql,
    databaseUrl: api.db.url,
    log: (level, message, fields) => {
      if (process.env.CAPTURE_DEBUG) console.error(level, message, fields);
    },
    pollIntervalMs: 200,
  });
};

interface StoredEvent {
  type: string;
  streamid: string;
  subject: string;
  position: string | number;
  data: {
    new: Record<string, unknown> | null;
    old: Record<string, unknown> | null;
    changes: Record<string, unknown>;
  };
  [attribute: string]: unknown;
}

/** Every event of a category, in global order, through the public read API. */
async function categoryEvents(category: string): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await api.request("GET", `/events?category=${category}&after=${after}&limit=1000`);
    expect(page.status).toBe(200);
    events.push(...page.body.events);
    if (page.body.events.length < 1000) return events;
    after = Number(page.body.events.at(-1).position);
  }
}

async function waitForEvents(category: string, count: number, timeoutMs = 15_000): Promise<StoredEvent[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = await categoryEvents(category);
    if (events.length >= count || Date.now() > deadline) return events;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  api = await startTestHttpApi();
  app = createSql(api.db.url, { max: 2 });
  readerSql = createSql(api.db.url, { max: 3 });
  await app.unsafe(`
    create type order_status as enum ('new', 'paid', 'shipped');
    create table public.orders (
      id int primary key, customer text not null, total numeric(12, 2), big numeric,
      placed_at timestamptz, local_at timestamp, day date, tags text[], statuses order_status[],
      doc jsonb, payload bytea, status order_status, counts int8[], ratio float8, flag boolean
    );
    create table public.lines (order_id int, line int, sku text, primary key (order_id, line));
    create table public.nokey (a int, b text);
    create table public.docs (id text primary key, body text, title text);
    alter table public.docs alter column body set storage external;
  `);
  startReader();
}, 60_000);

afterAll(async () => {
  await reader?.stop();
  for (const name of ["orders", "lines", "docs"]) await api.request("DELETE", `/captures/${name}`);
  await readerSql.end({ timeout: 5 });
  await app.end({ timeout: 5 });
  await api.close();
});

describe("PUT /captures/{name}", () => {
  it("captures a table: 201, then 200 for the same request, with the slot and its lag", async () => {
    const created = await api.request("PUT", "/captures/orders", {
      body: { table: "public.orders", replicaIdentityFull: true },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: "orders",
      table: "public.orders",
      keyColumns: ["id"],
      replicaIdentity: "full",
      slot: expect.stringMatching(/^eventbus_[0-9a-f]{16}$/),
    });
    const again = await api.request("PUT", "/captures/orders", { body: { table: "orders" } });
    expect(again.status).toBe(200);
    const one = await api.request("GET", "/captures/orders");
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ lagBytes: expect.any(Number), lagSeconds: expect.any(Number) });
    const all = await api.request("GET", "/captures");
    expect(all.body.captures.map((c: { name: string }) => c.name)).toEqual(["orders"]);
  }, 30_000);

  it("refuses what cannot be captured with a precise 4xx, and leaves nothing behind", async () => {
    const cases: Array<[string, unknown, number, string, string?]> = [
      ["missing", { table: "public.missing" }, 422, "CAPTURE_NOT_POSSIBLE", "table_not_found"],
      ["nokey", { table: "public.nokey" }, 422, "CAPTURE_NOT_POSSIBLE", "no_key"],
      ["bus", { table: "eventbus.events" }, 422, "CAPTURE_NOT_POSSIBLE", "bus_table"],
      ["again", { table: "public.orders" }, 409, "CAPTURE_CONFLICT"],
      ["orders", { table: "public.lines" }, 409, "CAPTURE_CONFLICT"],
      ["bad", { table: "a.b.c.d" }, 400, "VALIDATION_FAILED"],
      ["bad", { table: 42 }, 400, "VALIDATION_FAILED"],
      ["bad", { table: "public.orders", extra: true }, 400, "VALIDATION_FAILED"],
      ["Bad-Name", { table: "public.lines" }, 400, "VALIDATION_FAILED"],
    ];
    for (const [name, body, status, code, reason] of cases) {
      const response = await api.request("PUT", `/captures/${name}`, { body });
      expect({ name, status: response.status, code: response.body.code }).toEqual({ name, status, code });
      if (reason) expect(response.body.reason).toBe(reason);
      expect(JSON.stringify(response.body)).not.toMatch(/pg_|select|stack/i);
    }
    const all = await api.request("GET", "/captures");
    expect(all.body.captures.map((c: { name: string }) => c.name)).toEqual(["orders"]);
    const reader = await api.request("PUT", "/captures/orders", {
      body: { table: "public.orders" },
      token: await api.token("events:read"),
    });
    expect(reader.status).toBe(403);
    expect((await api.request("GET", "/captures/nothing")).status).toBe(404);
  });
});

describe("privileges", () => {
  it("refuses with 422 privileges when the bus's role lacks REPLICATION or does not own the table", async () => {
    const { putCapture } = await import("../../lib/capture/putCapture.ts");
    const suffix = Math.random().toString(36).slice(2, 8);
    const [plain, replicator] = [`cap_plain_${suffix}`, `cap_repl_${suffix}`];
    await app.unsafe(
      `create role ${plain} login password 'pw'; create role ${replicator} login replication password 'pw'`,
    );
    await app.unsafe(`grant usage, create on schema public, eventbus to ${plain}, ${replicator}`);
    await app.unsafe(`grant select, insert on all tables in schema eventbus to ${plain}, ${replicator}`);
    await app.unsafe(
      `create table public.owned_by_plain (id int primary key); alter table public.owned_by_plain owner to ${plain}`,
    );
    const as = (role: string) => {
      const url = new URL(api.db.url);
      url.username = role;
      url.password = "pw";
      return createSql(url.toString(), { max: 1 });
    };
    for (const [role, table] of [
      [plain, "public.owned_by_plain"],
      [replicator, "public.owned_by_plain"],
    ] as const) {
      const sql = as(role);
      try {
        await expect(putCapture(sql, "priv", { table })).rejects.toMatchObject({
          code: "CAPTURE_NOT_POSSIBLE",
          details: { reason: "privileges" },
        });
      } finally {
        await sql.end({ timeout: 5 });
      }
    }
    expect(await app`select name from eventbus.captures where name = 'priv'`).toEqual([]);
  });
});

describe("captured changes", () => {
  it("turns insert, update and delete into events with new, old, changes and exact values", async () => {
    await app`
      insert into orders (id, customer, total, big, placed_at, local_at, day, tags, statuses, doc, payload,
                          status, counts, ratio, flag)
      values (1, 'ada', 12.50, 123456789012345678901234567890.123, '2026-11-30 01:02:03.123456+02',
              '2026-11-30 01:02:03.5', '2026-11-30', ${["a", "b c", null] as unknown as string},
              '{new,paid}', '{"k": [1, {"x": null}]}', '\\x00ff10', 'new', '{9007199254740993, 1}',
              0.1, true)`;
    await app`update orders set total = 13, status = 'paid' where id = 1`;
    await app`insert into orders (id, customer) values (2, 'nulls')`;
    await app`delete from orders where id = 1`;
    const events = await waitForEvents("orders", 4);
    expect(events.map((e) => [e.type, e.streamid])).toEqual([
      ["orders.inserted", "orders-1"],
      ["orders.updated", "orders-1"],
      ["orders.inserted", "orders-2"],
      ["orders.deleted", "orders-1"],
    ]);
    const [inserted, updated, nulls, deleted] = events as [
      StoredEvent,
      StoredEvent,
      StoredEvent,
      StoredEvent,
    ];
    expect(nulls.data.new).toEqual({
      id: 2,
      customer: "nulls",
      ...Object.fromEntries(
        [
          "total",
          "big",
          "placed_at",
          "local_at",
          "day",
          "tags",
          "statuses",
          "doc",
          "payload",
          "status",
          "counts",
          "ratio",
          "flag",
        ].map((column) => [column, null]),
      ),
    });
    expect(inserted.data.new).toEqual({
      id: 1,
      customer: "ada",
      total: 12.5,
      big: "123456789012345678901234567890.123",
      placed_at: "2026-11-29T23:02:03.123456Z",
      local_at: "2026-11-30T01:02:03.5",
      day: "2026-11-30",
      tags: ["a", "b c", null],
      statuses: ["new", "paid"],
      doc: { k: [1, { x: null }] },
      payload: "\\x00ff10",
      status: "new",
      counts: ["9007199254740993", 1],
      ratio: 0.1,
      flag: true,
    });
    expect(inserted.data.old).toBeNull();
    expect(inserted.data.changes).toEqual(inserted.data.new);
    expect(updated.data.old).toEqual(inserted.data.new);
    expect(updated.data.changes).toEqual({ total: 13, status: "paid" });
    expect(updated.data.new).toMatchObject({ total: 13, status: "paid", customer: "ada" });
    expect(deleted.data).toEqual({ new: null, old: updated.data.new, changes: {} });
  }, 30_000);

  it("appends a source transaction atomically, in commit order, with composite keys in the stream id", async () => {
    const created = await api.request("PUT", "/captures/lines", { body: { table: "public.lines" } });
    expect(created.status).toBe(201);
    await app.begin(async (tx) => {
      await tx`insert into lines values (7, 1, 'a'), (7, 2, 'b'), (8, 1, 'c:d e')`;
      await tx`update lines set sku = 'z' where order_id = 7 and line = 2`;
    });
    await app`insert into lines values (9, 1, 'later')`;
    const events = await waitForEvents("lines", 5);
    expect(events.map((e) => e.streamid)).toEqual([
      "lines-7:1",
      "lines-7:2",
      "lines-8:1",
      "lines-7:2",
      "lines-9:1",
    ]);
    const positions = events.map((e) => Number(e.position));
    // One source transaction, one store transaction: its four events are contiguous.
    expect(positions.slice(1, 4)).toEqual([positions[0]! + 1, positions[0]! + 2, positions[0]! + 3]);
    // Without REPLICA IDENTITY FULL the WAL has no old row: `changes` then lists every column of `new`.
    expect(events[3]!.data).toEqual({
      new: { order_id: 7, line: 2, sku: "z" },
      old: null,
      changes: { order_id: 7, line: 2, sku: "z" },
    });
    expect(events[0]!.metadata ?? events[0]).toMatchObject({});
  }, 30_000);

  it("keeps going across DDL: added and dropped columns show up in the next events", async () => {
    await app`insert into lines values (10, 1, 'before')`;
    await app`alter table lines add column qty int default 1`;
    await app`insert into lines values (10, 2, 'after', 5)`;
    await app`alter table lines drop column sku`;
    await app`insert into lines values (10, 3, 9)`;
    const events = (await waitForEvents("lines", 8)).slice(5);
    expect(events.map((e) => e.data.new)).toEqual([
      { order_id: 10, line: 1, sku: "before" },
      { order_id: 10, line: 2, sku: "after", qty: 5 },
      { order_id: 10, line: 3, qty: 9 },
    ]);
  }, 30_000);

  it("leaves an unchanged TOASTed column out of an update instead of inventing a value", async () => {
    expect((await api.request("PUT", "/captures/docs", { body: { table: "docs" } })).status).toBe(201);
    const body = "x".repeat(50_000);
    await app`insert into docs values ('a b/c', ${body}, 'first')`;
    await app`update docs set title = 'second' where id = 'a b/c'`;
    const events = await waitForEvents("docs", 2);
    expect(events.map((e) => e.streamid)).toEqual(["docs-a@20b@2Fc", "docs-a@20b@2Fc"]);
    expect(events[0]!.data.new).toEqual({ id: "a b/c", body, title: "first" });
    expect(events[1]!.data.new).toEqual({ id: "a b/c", title: "second" });
    expect(events[1]!.data.changes).toEqual({ id: "a b/c", title: "second" });
  }, 30_000);

  it("appends after another writer of the same stream whose append commits while the capture waits for it", async () => {
    // An application appends to a captured row's stream in a transaction it holds open; the row's change
    // arrives meanwhile. The capture's append meets that writer's version and waits for its commit.
    let release!: () => void;
    let appended!: () => void;
    const hasAppended = new Promise<void>((resolve) => (appended = resolve));
    const holder = app.begin(async (tx) => {
      await appendToStream(tx as unknown as Sql, "orders-7000", [{ type: "orders.noted", data: {} }]);
      appended();
      await new Promise<void>((resolve) => (release = resolve));
    });
    await hasAppended;
    await app`insert into orders (id, customer) values (7000, 'raced')`;
    await new Promise((resolve) => setTimeout(resolve, 500));
    release();
    await holder;
    const deadline = Date.now() + 15_000;
    let stream: { streamversion: number; type: string }[] = [];
    while (stream.length < 2 && Date.now() < deadline) {
      const page = await api.request("GET", "/streams/orders-7000/events");
      stream = page.body.events ?? [];
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(stream.map((e) => [e.streamversion, e.type])).toEqual([
      [1, "orders.noted"],
      [2, "orders.inserted"],
    ]);
  }, 30_000);

  it("stores a row too large for an event as a refusal in its place, shows why, and goes on", async () => {
    await app`insert into docs values ('big', ${"y".repeat(130_000)}, 'too large')`;
    await app`insert into docs values ('small', 'fine', 'next')`;
    const events = (await waitForEvents("docs", 4)).slice(2);
    expect(events.map((e) => [e.streamid, e.type])).toEqual([
      ["docs-big", "docs.inserted"],
      ["docs-small", "docs.inserted"],
    ]);
    expect(events[0]!.data).toMatchObject({ new: null, old: null, changes: {} });
    expect((events[0]!.data as unknown as { refused: string }).refused).toMatch(/bytes.*limit/);
    expect(events[1]!.data.new).toEqual({ id: "small", body: "fine", title: "next" });
    const capture = await api.request("GET", "/captures/docs");
    expect(capture.body.lastError).toMatch(/^docs-big: .*bytes.*limit/);
    expect(JSON.stringify(capture.body)).not.toMatch(/select|insert|stack/i);
  }, 30_000);
});

describe("the slot's confirmed position", () => {
  it("stays behind a change the store has not taken yet, however long the store takes", async () => {
    const { slot } = (await api.request("GET", "/captures/orders")).body as { slot: string };
    // Another session holds the capture's progress row: the capture's appends wait for it.
    let release!: () => void;
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = app.begin(async (tx) => {
      await tx`select from eventbus.capture_progress where slot = ${slot} for update`;
      locked();
      await new Promise<void>((resolve) => (release = resolve));
    });
    await isLocked;
    try {
      await app`insert into orders (id, customer) values (5000, 'held')`;
      const [{ after }] = await app<[{ after: string }]>`select pg_current_wal_lsn()::text as after`;
      // Longer than pg-logical-replication's own confirmation timer (10 s), which confirms whatever was
      // received when the reader has confirmed nothing for that long.
      await new Promise((resolve) => setTimeout(resolve, 12_000));
      const [slotRow] = await app<[{ confirmed: string; before: boolean }]>`
        select confirmed_flush_lsn::text as confirmed, confirmed_flush_lsn < ${after}::pg_lsn as before
        from pg_replication_slots where slot_name = ${slot}`;
      expect((await categoryEvents("orders")).some((e) => e.streamid === "orders-5000")).toBe(false);
      expect(slotRow).toMatchObject({ before: true });
    } finally {
      release();
      await holder;
    }
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
      if ((await categoryEvents("orders")).some((e) => e.streamid === "orders-5000")) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const held = (await categoryEvents("orders")).filter((e) => e.streamid === "orders-5000");
    expect(held.map((e) => e.type)).toEqual(["orders.inserted"]);
  }, 60_000);
});

describe("restarts", () => {
  it("neither loses nor duplicates a change when the listener is SIGKILLed mid-stream, again and again", async () => {
    await reader?.stop();
    reader = undefined;
    const before = (await categoryEvents("orders")).length;
    let listener = spawnListener({ DATABASE_URL: api.db.url, EVENTBUS_LISTENER_ID: "capture-a" });
    await listener.ready;
    const rows = 600;
    const writing = (async () => {
      for (let i = 0; i < rows; i += 3) {
        await app.begin(async (tx) => {
          for (let j = i; j < i + 3; j++)
            await tx`insert into orders (id, customer) values (${1000 + j}, 'c')`;
        });
      }
    })();
    for (let kill = 0; kill < 3; kill++) {
      await new Promise((resolve) => setTimeout(resolve, 300 + kill * 100));
      await listener.kill();
      listener = spawnListener({ DATABASE_URL: api.db.url, EVENTBUS_LISTENER_ID: `capture-${kill}` });
      await listener.ready;
    }
    await writing;
    const events = await waitForEvents("orders", before + rows, 30_000);
    await listener.terminate();
    const inserted = events.slice(before).map((e) => e.streamid);
    expect(inserted).toEqual(Array.from({ length: rows }, (_, i) => `orders-${1000 + i}`));
    startReader();
  }, 90_000);

  it("drops the slot with the last capture", async () => {
    for (const name of ["orders", "lines", "docs"]) {
      expect((await api.request("DELETE", `/captures/${name}`)).status).toBe(204);
    }
    expect((await api.request("DELETE", "/captures/orders")).status).toBe(404);
    const slots = await app`select slot_name from pg_replication_slots where database = current_database()`;
    expect(slots).toEqual([]);
  }, 30_000);
});
