import type { Sql } from "postgres";
import { migrations } from "./migrations/index.ts";

/** Arbitrary but fixed: the advisory lock that makes concurrent migrators take turns. */
const MIGRATION_LOCK = 4242424241;

/**
 * Applies every pending migration in one transaction. Safe when several processes start at once: the
 * advisory lock is taken before anything else, so the second migrator waits and then finds nothing to do.
 *
 * @returns the ids of the migrations this call applied.
 */
export async function migrate(sql: Sql): Promise<number[]> {
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`create schema if not exists eventbus`;
    await tx`
      create table if not exists eventbus.migrations (
        id int primary key,
        name text not null,
        applied_at timestamptz not null default now()
      )`;
    const applied = new Set(
      (await tx<{ id: number }[]>`select id from eventbus.migrations`).map((r) => r.id),
    );
    const done: number[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.id)) continue;
      await tx.unsafe(migration.sql);
      await tx`insert into eventbus.migrations (id, name) values (${migration.id}, ${migration.name})`;
      done.push(migration.id);
    }
    return done;
  });
}
