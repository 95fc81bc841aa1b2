import { afterAll, beforeAll, expect, it } from "vitest";
import { deleteCapture } from "../../lib/capture/deleteCapture.ts";
import { putCapture } from "../../lib/capture/putCapture.ts";
import { createSql, type Sql } from "../../lib/db/client.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
let api: Sql; // as the HTTP API's sessions are: lock_timeout 3 s
let app: Sql;

beforeAll(async () => {
  db = await createTestDatabase();
  api = createSql(db.url, { max: 2, connection: { lock_timeout: 3000, statement_timeout: 10_000 } });
  app = createSql(db.url, { max: 1 });
  await app`create table slot_rows (id int primary key)`;
});
afterAll(async () => {
  await api.end({ timeout: 1 });
  await app.end({ timeout: 1 });
  await db.close();
});

it("creates the slot behind an application transaction that stays open past the API's lock timeout", async () => {
  // Creating a logical slot waits for every running transaction that has an id.
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const open = app.begin(async (tx) => {
    await tx`insert into slot_rows values (1)`;
    await held;
  });
  const started = Date.now();
  setTimeout(release, 4_000);
  const { created } = await putCapture(api, "slot_rows", { table: "public.slot_rows" });
  expect(created).toBe(true);
  expect(Date.now() - started).toBeGreaterThanOrEqual(3_900);
  await open;
  // No slot may outlive the test: it would hold the shared server's WAL.
  await deleteCapture(api, "slot_rows");
  expect(await app`select slot_name from pg_replication_slots where database = current_database()`).toEqual(
    [],
  );
}, 30_000);
