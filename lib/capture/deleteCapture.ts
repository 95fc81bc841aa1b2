import type { Sql } from "postgres";
import { EventBusError } from "../errors.ts";
import { PUBLICATION, slotNameSql } from "./captureNames.ts";

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Stops capturing a table: drops it from the publication and, with the last capture, drops the slot (ending
 * the walsender that reads it) so that Postgres keeps no WAL for the bus. Events already stored stay.
 * @throws {EventBusError} `CAPTURE_NOT_FOUND`.
 */
export async function deleteCapture(sql: Sql, name: string): Promise<void> {
  const remaining = await sql.begin(async (tx) => {
    const [capture] = await tx<{ schema: string; table: string }[]>`
      delete from eventbus.captures where name = ${name}
      returning table_schema as schema, table_name as table`;
    if (!capture) throw new EventBusError("CAPTURE_NOT_FOUND", `Capture '${name}' does not exist.`, { name });
    const [published] = await tx`
      select from pg_publication_tables
      where pubname = ${PUBLICATION} and schemaname = ${capture.schema} and tablename = ${capture.table}`;
    if (published) {
      await tx.unsafe(
        `alter publication ${PUBLICATION} drop table ${quoteIdent(capture.schema)}.${quoteIdent(capture.table)}`,
      );
    }
    await tx`select pg_notify('eventbus_captures', ${name})`;
    const [{ count }] = await tx<[{ count: number }]>`select count(*)::int as count from eventbus.captures`;
    return count;
  });
  if (remaining > 0) return;
  // The last capture: free the WAL. The reader's walsender is ended first (a slot in use cannot be dropped);
  // the reader sees no captures and stays idle.
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      await sql`
        select pg_terminate_backend(active_pid) from pg_replication_slots
        where slot_name = ${sql.unsafe(slotNameSql)} and active_pid is not null`;
      await sql`
        select pg_drop_replication_slot(slot_name) from pg_replication_slots
        where slot_name = ${sql.unsafe(slotNameSql)}`;
      await sql`delete from eventbus.capture_progress where slot = ${sql.unsafe(slotNameSql)}`;
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== "55006") throw error; // still in use: the walsender is exiting
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
