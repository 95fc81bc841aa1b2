/**
 * Appends without a global lock, and a gap-safe head for readers.
 *
 * Until now every append took one cluster-wide advisory lock so that positions followed commit order. That
 * held 8 writers to a quarter of a plain insert and let one open outbox transaction block every append.
 * Now writers to different streams never wait for each other (same-stream writers take turns on the stream's
 * row), positions still come from one sequence, and readers stop at a *safe head*: the highest position below
 * which nothing can still commit.
 *
 * Why the safe head is safe (the "head probe"):
 *  1. An append takes its transaction id before it draws a position (`pg_current_xact_id()` first).
 *  2. A probe reads the sequence's last value S, and only then takes a transaction id y of its own and
 *     records (y, S). Transaction ids are handed out in increasing order.
 *  3. Any position p <= S was drawn before the probe read S, by a transaction that got its id x before
 *     drawing p, hence before y was handed out: x < y.
 *  4. Once no transaction below y that may have appended is still running for the reader's snapshot, every
 *     writer of a position <= S has committed (and is visible to that snapshot) or rolled back. Nothing at
 *     or below S can appear later. The simple case: y below the snapshot's xmin. Otherwise `safe_head`
 *     looks at the running transactions below y and ignores those that hold no write lock on the events
 *     table, so a long transaction that never appends (another table, another database) holds nothing back.
 * The reader's safe head is the largest S among the probes that pass. Probes are cheap (one tiny row,
 * committed without waiting for the WAL flush) and the listener, `readAll` and `readSafeHead` make them.
 * An open transaction holds back delivery of what was appended after it began, never other writers.
 *
 * Event ids become unique per stream (as idempotency keys in EventStoreDB are): a conflict on an id can no
 * longer tell a caller that the id exists in a stream outside its token's scope.
 *
 * NOTIFY leaves the commit path: `append_to_stream` notifies only when asked (the outbox path, where the
 * caller's commit is out of our hands); the HTTP path notifies after its commit, coalesced per process.
 *
 * Parked events: what a sink refused for good, with the reason, so a subscription moves on visibly.
 */
export const concurrentAppends = /* sql */ `
alter table eventbus.events drop constraint events_id_key;
alter table eventbus.events add constraint events_stream_id_key unique (stream_id, id);

create table eventbus.head_probes (
  xid xid8 not null,
  head bigint not null
);
create index head_probes_xid_idx on eventbus.head_probes (xid);

-- Records (own transaction id, sequence value read before taking it) and returns that value. Call it in a
-- transaction of its own, before reading with safe_head(). See the header for why the order matters.
create function eventbus.probe_head() returns bigint
language plpgsql
as $$
declare
  v_head bigint;
begin
  select case when is_called then last_value else last_value - 1 end into v_head
  from eventbus.event_position;
  -- The probe is worthless after a crash anyway; never make it wait for the WAL flush.
  perform set_config('synchronous_commit', 'off', true);
  insert into eventbus.head_probes (xid, head) values (pg_current_xact_id(), v_head);
  -- Keep the table tiny: the newest safe probe and the not yet safe ones are all that matter. Rows another
  -- prober is deleting are skipped, so probers never wait for each other.
  delete from eventbus.head_probes p
  where p.ctid = any(array(
    select q.ctid from eventbus.head_probes q
    where q.xid < pg_snapshot_xmin(pg_current_snapshot())
      and q.head < (select max(r.head) from eventbus.head_probes r
                    where r.xid < pg_snapshot_xmin(pg_current_snapshot()))
    for update skip locked));
  return v_head;
end;
$$;

-- The highest position at or below which every event is either visible to the caller's snapshot or never
-- will be. Runs on the caller's snapshot (stable): what it vouches for is what the same statement reads.
create function eventbus.safe_head() returns bigint
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
  -- A newer probe is held back only by older transactions that may own events: those of this database, and
  -- those that ended after this snapshot was taken (their events may be invisible to it). A transaction
  -- running in another database can never append here, so a long one there holds nothing back. A backend
  -- belongs to one database for life, so pg_stat_activity tells which database each running id is in.
  select min(x) into v_blocking
  from pg_snapshot_xip(v_snapshot) x
  where x < v_newest
    and not exists (
      select 1 from pg_stat_activity a
      where a.backend_xid = x::xid
        and a.datid <> (select d.oid from pg_database d where d.datname = current_database()));
  -- Concurrent probers may take their ids in the other order than they read the sequence: take the
  -- largest head, not the newest probe's.
  select max(p.head) into v_safe from eventbus.head_probes p
  where v_blocking is null or p.xid < v_blocking;
  return coalesce(v_safe, 0);
end;
$$;

create table eventbus.parked (
  name text not null,
  position bigint not null,
  event_id text not null,
  reason text not null,
  parked_at timestamptz not null default now(),
  primary key (name, position)
);

drop function eventbus.append_to_stream(text, text, jsonb);

-- The stream's last append time is its newest event's, so an append need not write it (nor undo it).
alter table eventbus.streams drop column updated_at;

-- Appends a batch to one stream and returns a jsonb outcome instead of raising, so callers inside their own
-- transaction are not forced into a rollback by an expected conflict.
--   p_expected:  'any' | 'no_stream' | 'stream_exists' | '<n>'
--   p_events:    [{"id", "type", "data", "metadata"}, ...]
--   p_check_ids: some ids came from the caller (an idempotent retry is possible); ids the bus generated
--                cannot be in the stream yet
--   p_notify:    send the wake-up inside this transaction (callers that cannot notify after their commit)
-- Outcomes:
--   {"ok": true, "version": n, "firstPosition": p, "created": true}                       (contiguous)
--   {"ok": true, "version": n, "positions": [p, ...], "created": true}                    (interleaved)
--   {"ok": true, "version": n, "events": [{"id","version","position"}], "created": false}  (idempotent retry)
--   {"ok": false, "reason": "wrong_expected_version", "actual": n}
--   {"ok": false, "reason": "duplicate_event_id", "ids": [...]}
--
-- The common case is two statements: one upsert that locks the stream's row (appends to one stream take
-- turns on it; appends to other streams never wait) and reserves the versions, then the insert. A refusal,
-- rare, undoes the reservation under the same lock.
create function eventbus.append_to_stream(p_stream_id text, p_expected text, p_events jsonb,
  p_check_ids boolean, p_notify boolean)
returns jsonb
language plpgsql
as $$
declare
  v_count int := jsonb_array_length(p_events);
  v_after bigint;
  v_current bigint;
  v_existing jsonb;
  v_existing_count int;
  v_first bigint;
  v_last bigint;
  v_positions bigint[];
  v_refusal jsonb;
begin
  -- Gap safety, step 1 (see the migration header): the transaction id before any position.
  perform pg_current_xact_id();

  insert into eventbus.streams as s (stream_id, version) values (p_stream_id, v_count)
  on conflict (stream_id) do update set version = s.version + v_count
  returning s.version into v_after;
  v_current := v_after - v_count;

  if v_current > 0 and p_check_ids then
    -- Idempotent retry: every id already in this stream, in the same order, is a success that appends
    -- nothing.
    select count(*),
      coalesce(jsonb_agg(jsonb_build_object('id', e.id, 'version', e.version, 'position', e.position)
        order by p.ord), '[]'::jsonb)
    into v_existing_count, v_existing
    from jsonb_array_elements(p_events) with ordinality as p(ev, ord)
    join eventbus.events e on e.stream_id = p_stream_id and e.id = p.ev->>'id';
    if v_existing_count = v_count then
      v_refusal := jsonb_build_object('ok', true, 'version', v_current, 'events', v_existing,
        'created', false);
    elsif v_existing_count > 0 then
      v_refusal := jsonb_build_object('ok', false, 'reason', 'duplicate_event_id',
        'ids', (select jsonb_agg(x->'id') from jsonb_array_elements(v_existing) x));
    end if;
  end if;

  if v_refusal is null and (
       (p_expected = 'no_stream' and v_current > 0)
    or (p_expected = 'stream_exists' and v_current = 0)
    or (p_expected ~ '^[0-9]+$' and v_current <> p_expected::bigint)) then
    v_refusal := jsonb_build_object('ok', false, 'reason', 'wrong_expected_version', 'actual', v_current);
  end if;

  if v_refusal is not null then
    if v_current = 0 then
      delete from eventbus.streams where stream_id = p_stream_id;
    else
      update eventbus.streams set version = v_current where stream_id = p_stream_id;
    end if;
    return v_refusal;
  end if;

  -- Versions come from the locked stream row, positions from the sequence: ascending in batch order, and
  -- contiguous unless another writer drew in between.
  with inserted as (
    insert into eventbus.events (position, stream_id, version, id, type, data, metadata)
    select nextval('eventbus.event_position'), p_stream_id, v_current + p.ord,
           p.ev->>'id', p.ev->>'type', p.ev->'data', nullif(p.ev->'metadata', 'null'::jsonb)
    from jsonb_array_elements(p_events) with ordinality as p(ev, ord)
    order by p.ord
    returning position
  )
  select min(position), max(position), array_agg(position order by position)
  into v_first, v_last, v_positions
  from inserted;

  if p_notify then
    -- A wake-up only: listeners always read from their checkpoint. A few bytes.
    perform pg_notify('eventbus_events', v_last::text);
  end if;

  if v_last - v_first + 1 = v_count then
    return jsonb_build_object('ok', true, 'version', v_after, 'firstPosition', v_first, 'created', true);
  end if;
  return jsonb_build_object('ok', true, 'version', v_after, 'positions', to_jsonb(v_positions),
    'created', true);
end;
$$;
`;
