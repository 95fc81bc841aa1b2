import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { createSql, type Sql } from "../../lib/db/client.ts";
import { migrations } from "../../lib/db/migrations/index.ts";

export interface TestDatabase {
  url: string;
  sql: Sql;
  /** Ends the pool; the database is kept so a failing test's data can be inspected. */
  close(): Promise<void>;
}

/** A fresh, migrated database for one test file, cloned from the run's template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = inject("postgresUrl");
  const name = `eventbus_test_${randomBytes(6).toString("hex")}`;
  const admin = createSql(serverUrl, { max: 1 });
  await admin.unsafe(`create database ${name} template eventbus_template`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const sql = createSql(url.toString());
  return { url: url.toString(), sql, close: () => sql.end({ timeout: 5 }) };
}

/**
 * A database stopped at migration `lastId`, as a bus of that version left it: for tests of how a later
 * migration moves what older versions stored. Run `migrate` on it to apply the rest.
 */
export async function createDatabaseAtMigration(lastId: number): Promise<Sql> {
  const serverUrl = inject("postgresUrl");
  const name = `eventbus_at_${lastId}_${randomBytes(6).toString("hex")}`;
  const admin = createSql(serverUrl, { max: 1 });
  await admin.unsafe(`create database ${name} template template0`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const sql = createSql(url.toString());
  await sql.begin(async (tx) => {
    await tx`create schema if not exists eventbus`;
    await tx`create table eventbus.migrations (id int primary key, name text not null,
      applied_at timestamptz not null default now())`;
    for (const migration of migrations.filter((m) => m.id <= lastId)) {
      await tx.unsafe(migration.sql);
      await tx`insert into eventbus.migrations (id, name) values (${migration.id}, ${migration.name})`;
    }
  });
  return sql;
}
