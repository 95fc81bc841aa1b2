import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CaptureReader, startCaptureReader } from "../../lib/capture/startCaptureReader.ts";
import { createSql, type Sql } from "../../lib/db/client.ts";
import { defineOperator, type Operator } from "../../lib/operators/defineOperator.ts";
import { loadOperators } from "../../lib/operators/loadOperators.ts";
import { type RunningOperators, startOperators } from "../../lib/operators/startOperators.ts";
import { spawnListener } from "../listener/support.ts";
import { startTestHttpApi, type TestHttpApi } from "../support/httpApi.ts";

const EXAMPLE = "examples/orderTotals/operators.ts";

let api: TestHttpApi;
let app: Sql;
let busSql: Sql;
let reader: CaptureReader;
let running: RunningOperators | undefined;
const failures: string[] = [];

/** Fails twice on every third order, then succeeds: retries must not apply anything twice. */
const flakyCounts = new Map<string, number>();
const flaky = defineOperator({
  name: "flaky_counter",
  filter: { type: ["orders.inserted"] },
  async handle(event, tx) {
    const id = String((event.data as { new: { id: number } }).new.id);
    await tx`insert into flaky_counts (id) values (${id})`;
    const seen = (flakyCounts.get(id) ?? 0) + 1;
    flakyCounts.set(id, seen);
    if (Number(id) % 3 === 0 && seen <= 2) throw new Error(`flaky failure ${seen} on ${id}`);
  },
  reset: async (tx) => {
    await tx`truncate flaky_counts`;
  },
});

/** Never accepts the customer named "poison": parked after 3 attempts, and the rest still applies. */
const picky = defineOperator({
  name: "picky",
  filter: { type: ["orders.inserted"] },
  maxAttempts: 3,
  async handle(event, tx) {
    const row = (event.data as { new: { id: number; customer: string } }).new;
    if (row.customer === "poison") throw new Error(`cannot take order ${row.id} of customer poison`);
    await tx`insert into picky_seen (id) values (${row.id}) on conflict do nothing`;
  },
});

async function startRunner(): Promise<void> {
  const example = await loadOperators(EXAMPLE, process.cwd());
  running = startOperators({
    sql: busSql,
    operators: [...example, flaky, picky] as Operator[],
    log: (level, message, fields) => {
      if (level === "error" || level === "warn") failures.push(`${message} ${JSON.stringify(fields)}`);
    },
    pollIntervalMs: 100,
    retryBaseMs: 10,
  });
}

async function operator(name: string) {
  const response = await api.request("GET", `/operators/${name}`);
  expect(response.status).toBe(200);
  return response.body;
}

/** Waits until the capture has appended every change made so far, then until no operator lags. */
async function caughtUp(timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const [{ lsn }] = await app<[{ lsn: string }]>`select pg_current_wal_lsn()::text as lsn`;
  for (;;) {
    const [{ done }] = await app<[{ done: boolean }]>`
      select coalesce(confirmed_flush_lsn >= ${lsn}::pg_lsn, false) as done
      from pg_replication_slots where database = current_database()`;
    if (done) break;
    if (Date.now() > deadline) throw new Error("the capture did not catch up");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  for (;;) {
    const { operators } = (await api.request("GET", "/operators")).body;
    const [{ position } = { position: 0 }] = await busSql<{ position: number }[]>`
      select coalesce(max(position), 0)::bigint as position from eventbus.events`;
    const done =
      operators.length === 3 &&
      operators.every(
        (o: { checkpoint: number; replayFrom: number | null }) =>
          o.checkpoint >= position && o.replayFrom === null,
      );
    if (done) return;
    if (Date.now() > deadline) throw new Error(`operators did not catch up: ${JSON.stringify(operators)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const expectedTotals = () =>
  app`select customer, count(*)::int as orders, sum(total)::text as total
      from orders group by customer order by customer`;
const derivedTotals = () =>
  app`select customer, orders, total::text as total from order_totals order by customer`;

/** Random inserts, updates (some moving an order to another customer) and deletes, in small transactions. */
async function churn(seed: number, count: number, firstId: number): Promise<void> {
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const customers = ["ada", "bob", "cy", "dee"];
  for (let i = 0; i < count; i++) {
    const id = firstId + Math.floor(random() * count);
    const customer = customers[Math.floor(random() * customers.length)]!;
    const total = (Math.floor(random() * 100_000) / 100).toFixed(2);
    const roll = random();
    if (roll < 0.6) {
      await app`insert into orders values (${id}, ${customer}, ${total})
                on conflict (id) do update set customer = excluded.customer, total = excluded.total`;
    } else if (roll < 0.85) {
      await app.begin(async (tx) => {
        await tx`update orders set total = total + 1 where id = ${id}`;
        await tx`update orders set customer = ${customer} where id = ${id + 1}`;
      });
    } else {
      await app`delete from orders where id = ${id}`;
    }
  }
}

beforeAll(async () => {
  api = await startTestHttpApi();
  app = createSql(api.db.url, { max: 2 });
  busSql = createSql(api.db.url, { max: 6 });
  await app.unsafe(readFileSync("examples/orderTotals/schema.sql", "utf8"));
  await app.unsafe("create table flaky_counts (id text); create table picky_seen (id bigint primary key)");
  const capture = await api.request("PUT", "/captures/orders", {
    body: { table: "public.orders", replicaIdentityFull: true },
  });
  expect(capture.status).toBe(201);
  reader = startCaptureReader({ sql: busSql, databaseUrl: api.db.url, log: () => {}, pollIntervalMs: 100 });
  await startRunner();
}, 60_000);

afterAll(async () => {
  await running?.stop();
  await reader?.stop();
  await api.request("DELETE", "/captures/orders");
  await busSql.end({ timeout: 5 });
  await app.end({ timeout: 5 });
  await api.close();
});

describe("operators", () => {
  it("keep a derived table equal to the source across random inserts, updates and deletes", async () => {
    await churn(7, 300, 1);
    await caughtUp();
    expect(await derivedTotals()).toEqual(await expectedTotals());
    expect((await expectedTotals()).length).toBeGreaterThan(0);
  }, 60_000);

  it("retry a failing event with back-off and apply its writes exactly once", async () => {
    await app`insert into orders values (3000, 'ada', 1), (3001, 'bob', 2), (3003, 'cy', 3)`;
    await caughtUp();
    // 3000 and 3003 failed twice each: their rolled-back writes left nothing behind.
    const rows =
      await app`select id, count(*)::int as n from flaky_counts where id in ('3000', '3001', '3003') group by id order by id`;
    expect(rows).toEqual([
      { id: "3000", n: 1 },
      { id: "3001", n: 1 },
      { id: "3003", n: 1 },
    ]);
    expect(flakyCounts.get("3003")).toBe(3);
    const status = await operator("flaky_counter");
    expect(status).toMatchObject({
      attempts: 0,
      parked: 0,
      lastError: expect.stringContaining("flaky failure"),
    });
  }, 60_000);

  it("park an event after its attempts, show why, and go on with the next", async () => {
    await app`insert into orders values (4000, 'poison', 1)`;
    await app`insert into orders values (4001, 'ok', 1)`;
    await caughtUp();
    const status = await operator("picky");
    expect(status.parked).toBe(1);
    expect(status.lastError).toBe("cannot take order 4000 of customer poison");
    expect(status.recentParked).toEqual([
      expect.objectContaining({ attempts: 3, error: "cannot take order 4000 of customer poison" }),
    ]);
    expect(await app`select id from picky_seen where id >= 4000`).toEqual([{ id: 4001 }]);
    expect(failures.some((line) => line.includes("operator parked an event"))).toBe(true);
  }, 60_000);

  it("resume after a restart, and after a SIGKILLed listener, with the derived table still exact", async () => {
    await running?.stop();
    await churn(11, 150, 5000); // while nobody runs the operators
    await startRunner();
    await caughtUp();
    expect(await derivedTotals()).toEqual(await expectedTotals());

    // The real listener process, with the example module, killed mid-stream and replaced.
    await running?.stop();
    let listener = spawnListener({
      DATABASE_URL: api.db.url,
      EVENTBUS_LISTENER_ID: "operators-a",
      EVENTBUS_OPERATORS_MODULE: EXAMPLE,
    });
    await listener.ready;
    const writing = churn(13, 200, 7000);
    await new Promise((resolve) => setTimeout(resolve, 400));
    await listener.kill();
    listener = spawnListener({
      DATABASE_URL: api.db.url,
      EVENTBUS_LISTENER_ID: "operators-b",
      EVENTBUS_OPERATORS_MODULE: EXAMPLE,
    });
    await writing;
    await listener.ready;
    const deadline = Date.now() + 30_000;
    let derived: unknown;
    do {
      await new Promise((resolve) => setTimeout(resolve, 200));
      derived = await derivedTotals();
    } while (JSON.stringify(derived) !== JSON.stringify(await expectedTotals()) && Date.now() < deadline);
    expect(derived).toEqual(await expectedTotals());
    await listener.terminate();
    await startRunner();
  }, 120_000);

  it("replay from the origin rebuilds the derived table through reset", async () => {
    await app`insert into order_totals values ('ghost', 99, 99)`;
    const replay = await api.request("POST", "/operators/order_totals/replay", { body: { from: "origin" } });
    expect(replay.status).toBe(202);
    const bad = await api.request("POST", "/operators/order_totals/replay", { body: { from: -1 } });
    expect(bad.status).toBe(400);
    expect((await api.request("POST", "/operators/nope/replay", { body: { from: "origin" } })).status).toBe(
      404,
    );
    await caughtUp();
    expect(await derivedTotals()).toEqual(await expectedTotals());
  }, 60_000);
});
