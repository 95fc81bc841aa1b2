/**
 * Change capture and operators.
 *
 * - `captures`: which application tables are read from the WAL, and under which name (the stream prefix and
 *   type prefix of their events). The publication and the replication slot themselves live in Postgres'
 *   catalogs; these rows say what the bus asked for.
 * - `capture_progress`: the commit LSN of the last source transaction whose events are in the store,
 *   written in the same transaction as those events. The slot's confirmed position only advances after
 *   that commit, and a restart skips every source transaction at or below this LSN: exactly once.
 * - `operators` / `operator_parked`: one checkpoint per operator, advanced in the same transaction as the
 *   operator's own writes, and the events an operator gave up on, with the error.
 */
export const changeCapture = /* sql */ `
create table eventbus.captures (
  name text primary key,
  table_schema text not null,
  table_name text not null,
  key_columns text[] not null,
  created_at timestamptz not null default now(),
  unique (table_schema, table_name)
);

create table eventbus.capture_progress (
  slot text primary key,
  applied_lsn pg_lsn not null,
  source_committed_at timestamptz,
  applied_at timestamptz not null default now(),
  -- When the reader last had nothing received and unapplied (lag in seconds counts from here).
  idle_at timestamptz,
  last_error text,
  last_error_at timestamptz
);

create table eventbus.operators (
  name text primary key,
  checkpoint bigint not null default 0,
  replay_from bigint,
  attempts int not null default 0,
  last_error text,
  last_error_at timestamptz,
  parked bigint not null default 0,
  owner text,
  updated_at timestamptz not null default now()
);

create table eventbus.operator_parked (
  name text not null references eventbus.operators (name) on delete cascade,
  position bigint not null,
  event_id text not null,
  error text not null,
  attempts int not null,
  parked_at timestamptz not null default now(),
  primary key (name, position)
);
`;
