import type { Sql } from "postgres";
import { z } from "zod";
import { EventBusError, validationFailed } from "../errors.ts";
import { parseWith } from "../validation.ts";
import { PUBLICATION, slotNameSql } from "./captureNames.ts";
import { type CaptureStatus, readCaptureStatuses } from "./readCaptureStatus.ts";

const captureRequest = z.strictObject({
  table: z.string().min(1).max(300),
  replicaIdentityFull: z.boolean().optional(),
});

export type CaptureRequest = z.output<typeof captureRequest>;

/** Parses the body of `PUT /captures/{name}`. */
export const parseCaptureRequest = (value: unknown): CaptureRequest =>
  parseWith(captureRequest, value, "Invalid capture");

const notPossible = (reason: string, message: string) =>
  new EventBusError("CAPTURE_NOT_POSSIBLE", message, { reason, pointer: "/table" });

interface TableFacts {
  oid: number;
  schema: string;
  table: string;
  kind: string;
  replicaIdentity: "d" | "n" | "f" | "i";
  owned: boolean;
  readable: boolean;
  primaryKey: string[] | null;
  identityIndex: string[] | null;
}

async function tableFacts(sql: Sql, table: string): Promise<TableFacts | undefined> {
  let rows: TableFacts[];
  try {
    rows = await sql<TableFacts[]>`
      select c.oid::int as oid, n.nspname as schema, c.relname as table, c.relkind as kind,
             c.relreplident as "replicaIdentity",
             pg_has_role(c.relowner, 'USAGE') as owned,
             has_table_privilege(c.oid, 'SELECT') as readable,
             (select array_agg(a.attname::text order by k.ord)
                from pg_index i, unnest(i.indkey) with ordinality k(attnum, ord)
                join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
               where i.indrelid = c.oid and i.indisprimary) as "primaryKey",
             (select array_agg(a.attname::text order by k.ord)
                from pg_index i, unnest(i.indkey) with ordinality k(attnum, ord)
                join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
               where i.indrelid = c.oid and i.indisreplident) as "identityIndex"
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.oid = to_regclass(${table})`;
  } catch {
    // to_regclass refuses names it cannot parse (too many dots, unbalanced quotes).
    throw validationFailed(`Invalid capture: /table '${table}' is not a table name.`, {
      errors: [{ pointer: "/table", message: "must be a table name such as public.orders" }],
    });
  }
  return rows[0];
}

async function canReplicate(sql: Sql): Promise<boolean> {
  // A superuser or a role with REPLICATION; on RDS, membership of rds_replication.
  const [row] = await sql<{ ok: boolean }[]>`
    select r.rolsuper or r.rolreplication
           or coalesce((select pg_has_role(current_user, 'rds_replication', 'MEMBER')
                          where exists (select from pg_roles where rolname = 'rds_replication')), false) as ok
    from pg_roles r where r.rolname = current_user`;
  return row?.ok ?? false;
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Starts capturing a table: checks that Postgres can decode it and that the bus may publish it, creates the
 * slot and the publication on first use, and adds the table. Returns 201 for a new capture, 200 when the
 * same capture exists.
 *
 * @throws {EventBusError} `CAPTURE_NOT_POSSIBLE` (422: logical replication off, table missing or not a table,
 * no primary key or replica identity, missing privileges), `CAPTURE_CONFLICT` (409), `VALIDATION_FAILED`.
 */
export async function putCapture(
  sql: Sql,
  name: string,
  request: CaptureRequest,
): Promise<{ created: boolean; capture: CaptureStatus }> {
  const [{ level } = { level: "" }] = await sql<
    { level: string }[]
  >`select current_setting('wal_level') as level`;
  if (level !== "logical") {
    throw notPossible(
      "logical_replication_disabled",
      `Postgres runs with wal_level=${level}; change capture needs wal_level=logical (on RDS: rds.logical_replication = 1).`,
    );
  }
  const facts = await tableFacts(sql, request.table);
  if (!facts) throw notPossible("table_not_found", `Table '${request.table}' does not exist.`);
  const qualified = `${facts.schema}.${facts.table}`;
  if (facts.kind !== "r" && facts.kind !== "p") {
    throw notPossible("not_a_table", `'${qualified}' is not a table (only tables can be captured).`);
  }
  if (facts.schema === "eventbus") {
    throw notPossible("bus_table", "The bus's own tables cannot be captured.");
  }
  const keyColumns = facts.primaryKey ?? facts.identityIndex;
  if (!keyColumns) {
    throw notPossible(
      "no_key",
      `Table '${qualified}' has no primary key or replica identity index: its rows cannot be named as streams, and publishing it would make Postgres refuse its updates and deletes.`,
    );
  }
  if (facts.replicaIdentity === "n" && !request.replicaIdentityFull) {
    throw notPossible(
      "replica_identity_nothing",
      `Table '${qualified}' has REPLICA IDENTITY NOTHING: publishing it would make Postgres refuse its updates and deletes. Send "replicaIdentityFull": true or change it.`,
    );
  }
  if (!facts.owned || !facts.readable) {
    throw notPossible(
      "privileges",
      `The bus's database role must own '${qualified}' (to publish it) and be able to read it.`,
    );
  }
  if (!(await canReplicate(sql))) {
    throw notPossible(
      "privileges",
      "The bus's database role needs the REPLICATION attribute (on RDS: GRANT rds_replication).",
    );
  }

  const [existing] = await sql<{ name: string; schema: string; table: string }[]>`
    select name, table_schema as schema, table_name as table from eventbus.captures
    where name = ${name} or (table_schema = ${facts.schema} and table_name = ${facts.table})`;
  if (
    existing &&
    (existing.name !== name || existing.schema !== facts.schema || existing.table !== facts.table)
  ) {
    throw new EventBusError(
      "CAPTURE_CONFLICT",
      existing.name === name
        ? `Capture '${name}' already captures '${existing.schema}.${existing.table}'.`
        : `Table '${qualified}' is already captured as '${existing.name}'.`,
      { capture: existing.name, table: `${existing.schema}.${existing.table}` },
    );
  }

  if (request.replicaIdentityFull && facts.replicaIdentity !== "f") {
    await sql.unsafe(
      `alter table ${quoteIdent(facts.schema)}.${quoteIdent(facts.table)} replica identity full`,
    );
  }
  // The slot first: every change committed after the table joins the publication is then in the slot's
  // reach. Creating it waits for every transaction of the cluster already running to end (Postgres needs a
  // clean start point), which the API's 3 s lock_timeout would cut short whenever some application holds a
  // transaction open: it may wait up to 20 s (then 503 UNAVAILABLE, and a retry is safe).
  await sql
    .begin(async (tx) => {
      await tx`select set_config('lock_timeout', '20s', true), set_config('statement_timeout', '25s', true)`;
      await tx`
        select pg_create_logical_replication_slot(slot, 'pgoutput')
        from (select ${tx.unsafe(slotNameSql)} as slot) s
        where not exists (select from pg_replication_slots where slot_name = s.slot)`;
    })
    .catch((error) => {
      if ((error as { code?: string }).code !== "42710") throw error; // created concurrently
    });
  await sql.unsafe(`create publication ${PUBLICATION}`).catch((error) => {
    if ((error as { code?: string }).code !== "42710") throw error;
  });
  let created = false;
  await sql.begin(async (tx) => {
    const inserted = await tx`
      insert into eventbus.captures (name, table_schema, table_name, key_columns)
      values (${name}, ${facts.schema}, ${facts.table}, ${keyColumns})
      on conflict do nothing returning name`;
    created = inserted.length > 0;
    const [published] = await tx`
      select from pg_publication_tables
      where pubname = ${PUBLICATION} and schemaname = ${facts.schema} and tablename = ${facts.table}`;
    if (!published) {
      await tx.unsafe(
        `alter publication ${PUBLICATION} add table ${quoteIdent(facts.schema)}.${quoteIdent(facts.table)}`,
      );
    }
    await tx`select pg_notify('eventbus_captures', ${name})`;
  });
  const [capture] = await readCaptureStatuses(sql, name);
  return { created, capture: capture! };
}
