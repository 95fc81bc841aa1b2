/**
 * A head probe (migration 0003) costs less: the listener takes one on nearly every wake-up, so on a bus
 * serving one writer it ran about as often as appends, and cost Postgres more than the append itself.
 *
 * - The sequence's value comes from `pg_sequence_last_value` (a function call) instead of a scan of the
 *   sequence relation through the executor. It is NULL until the first position is drawn: head 0, as
 *   before.
 * - `synchronous_commit` is switched off inside the probe's insert, not by a statement of its own.
 * - Pruning (keeping the newest safe probe and the ones not yet safe) runs in one probe of eight, chosen
 *   by its transaction id: the table holds a few more rows between prunes, which the index ranges that
 *   `safe_head()` reads pass over in no time, and every probe skips a statement that read the table twice.
 *
 * The order that makes a probe safe is unchanged: its head is read before its transaction id is taken.
 */
export const cheaperHeadProbes = /* sql */ `
create or replace function eventbus.probe_head() returns bigint
language plpgsql
as $$
declare
  v_head bigint := coalesce(pg_sequence_last_value('eventbus.event_position'::regclass), 0);
  v_xid xid8;
begin
  -- The probe is worthless after a crash anyway; never make it wait for the WAL flush.
  insert into eventbus.head_probes (xid, head)
  select pg_current_xact_id(), v_head
  where set_config('synchronous_commit', 'off', true) is not null
  returning xid into v_xid;
  -- Keep the table small: the newest safe probe and the not yet safe ones are all that matter. Rows another
  -- prober is deleting are skipped, so probers never wait for each other.
  if v_xid::text::int8 % 8 = 0 then
    delete from eventbus.head_probes p
    where p.ctid = any(array(
      select q.ctid from eventbus.head_probes q
      where q.xid < pg_snapshot_xmin(pg_current_snapshot())
        and q.head < (select max(r.head) from eventbus.head_probes r
                      where r.xid < pg_snapshot_xmin(pg_current_snapshot()))
      for update skip locked));
  end if;
  return v_head;
end;
$$;
`;
