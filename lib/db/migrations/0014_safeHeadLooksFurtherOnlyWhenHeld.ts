/**
 * The gap-safe head (migration 0003) looks at other databases' transactions only once a probe has waited.
 *
 * `safe_head()` lets a probe pass over an older transaction that is still running if that transaction runs in
 * another database (it can never append here), so a long batch job elsewhere on the server holds nothing
 * back. Telling which database a transaction runs in takes `pg_stat_activity`, which copies the status of
 * every backend slot (`max_connections` of them): about half a millisecond of server CPU, in every call that
 * met a running transaction older than the newest probe. On a busy bus that is nearly every call, since
 * appends are always in flight; the listener makes several per wake-up, and so did half its Postgres time.
 *
 * Those transactions are nearly always appends of this database that end within milliseconds. So the look
 * is taken only when the blocking transaction has outlived a probe recorded at least 20 ms earlier; until
 * then every running transaction older than the probe holds it back, which is always safe (the look can
 * only let more through). A long transaction in another database still holds delivery back for no more than
 * those 20 ms (and `GET /events` still waits for it no longer than ~60 ms, see lib/events/readAll.ts).
 */
export const safeHeadLooksFurtherOnlyWhenHeld = /* sql */ `
alter table eventbus.head_probes add column taken_at timestamptz not null default clock_timestamp();

create or replace function eventbus.safe_head() returns bigint
language plpgsql
stable
as $$
declare
  v_snapshot pg_snapshot := pg_current_snapshot();
  v_xmin xid8 := pg_snapshot_xmin(v_snapshot);
  v_safe bigint;
  v_newest xid8;
  v_blocking xid8;
begin
  -- Probes below xmin are safe: every transaction older than them has ended.
  select max(p.head) into v_safe from eventbus.head_probes p where p.xid < v_xmin;
  select max(p.xid) into v_newest from eventbus.head_probes p where p.xid >= v_xmin;
  if v_newest is null then
    return coalesce(v_safe, 0);
  end if;
  -- The oldest transaction running for this snapshot below the newest probe holds back every probe above it.
  select min(x) into v_blocking from pg_snapshot_xip(v_snapshot) x where x < v_newest;
  -- A newer probe is held back only by older transactions that may own events: those of this database, and
  -- those that ended after this snapshot was taken (their events may be invisible to it). A transaction
  -- running in another database can never append here, so a long one there holds nothing back. A backend
  -- belongs to one database for life, so pg_stat_activity tells which database each running id is in; it is
  -- costly, so it is asked only about a blocker that outlived a probe taken 20 ms ago (see the header).
  if v_blocking is not null and exists (
    select 1 from eventbus.head_probes p
    where p.xid > v_blocking and p.taken_at < clock_timestamp() - interval '20 milliseconds'
  ) then
    select min(x) into v_blocking
    from pg_snapshot_xip(v_snapshot) x
    where x < v_newest
      and not exists (
        select 1 from pg_stat_activity a
        where a.backend_xid = x::xid
          and a.datid <> (select d.oid from pg_database d where d.datname = current_database()));
  end if;
  -- Concurrent probers may take their ids in the other order than they read the sequence: take the
  -- largest head, not the newest probe's.
  select max(p.head) into v_safe from eventbus.head_probes p
  where v_blocking is null or p.xid < v_blocking;
  return coalesce(v_safe, 0);
end;
$$;
`;
