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
  const url = await newDatabase("eventbus_test", "eventbus_template");
  const sql = createSql(url);
  return { url, sql, close: () => sql.end({ timeout: 5 }) };
}

/** Creates a database named `<prefix>_<random>` from `template` on the run's server; returns its URL. */
async function newDatabase(prefix: string, template: string): Promise<string> {
  const serverUrl = inject("postgresUrl");
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  const admin = createSql(serverUrl, { max: 1 });
  await admin.unsafe(`create database ${name} template ${template}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * A database stopped at migration `lastId`, as a bus of that version left it: for tests of how a later
 * migration moves what older versions stored. Run `migrate` on it to apply the rest.
 */
export async function createDatabaseAtMigration(lastId: number): Promise<Sql> {
  const sql = createSql(await newDatabase(`eventbus_at_${lastId}`, "template0"));
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
