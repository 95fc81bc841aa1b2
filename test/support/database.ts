import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { createSql, type Sql } from "../../lib/db/client.ts";

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
