/**
 * The event store: streams, events and the append function.
 *
 * Gap safety: every append takes one transaction-scoped advisory lock before it draws positions, so
 * positions are handed out in commit order (the Message DB / Commanded `$all` technique). A reader that
 * asks for `position > checkpoint` therefore never skips a late committer. The price is that appends are
 * serialised cluster-wide; the append is one statement so the lock is held for as short a time as possible.
 */
export const eventStore = /* sql */ `
create schema if not exists eventbus;

create table eventbus.streams (
  stream_id text primary key,
  version bigint not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create sequence eventbus.event_position as bigint;

create table eventbus.events (
  position bigint primary key,
  stream_id text not null,
  version bigint not null,
  id text not null,
  type text not null,
  category text not null generated always as (split_part(stream_id, '-', 1)) stored,
  data jsonb,
  metadata jsonb,
  created_at timestamptz not null default now(),
  constraint events_stream_version_key unique (stream_id, version),
  constraint events_id_key unique (id)
);

create index events_type_position_idx on eventbus.events (type, position);
create index events_category_position_idx on eventbus.events (category, position);

-- Appends a batch to one stream and returns a jsonb outcome instead of raising, so callers inside their own
-- transaction are not forced into a rollback by an expected conflict.
--   p_expected: 'any' | 'no_stream' | 'stream_exists' | '<n>'
--   p_events:   [{"id", "type", "data", "metadata"}, ...]
-- Outcomes:
--   {"ok": true, "version": n, "firstPosition": p, "created": true}
--   {"ok": true, "version": n, "events": [{"id","version","position"}], "created": false}  (idempotent retry)
--   {"ok": false, "reason": "wrong_expected_version", "actual": n}
--   {"ok": false, "reason": "duplicate_event_id", "ids": [...]}
create function eventbus.append_to_stream(p_stream_id text, p_expected text, p_events jsonb)
returns jsonb
language plpgsql
as $$
declare
  v_current bigint;
  v_count int := jsonb_array_length(p_events);
  v_existing jsonb;
  v_existing_count int;
  v_foreign_ids jsonb;
  v_last_position bigint;
begin
  -- Serialise appends so that positions follow commit order (see header comment).
  perform pg_advisory_xact_lock(4242424242);

  select s.version into v_current from eventbus.streams s where s.stream_id = p_stream_id;

  -- Idempotent retry: every id already in this stream, in the same order, is a success that appends nothing.
  select
    count(*),
    coalesce(jsonb_agg(jsonb_build_object('id', e.id, 'version', e.version, 'position', e.position)
      order by p.ord), '[]'::jsonb),
    coalesce(jsonb_agg(e.id) filter (where e.stream_id <> p_stream_id), '[]'::jsonb)
  into v_existing_count, v_existing, v_foreign_ids
  from jsonb_array_elements(p_events) with ordinality as p(ev, ord)
  join eventbus.events e on e.id = p.ev->>'id'
  -- Spelled out as an array so the planner probes the unique index instead of scanning the table.
  where e.id = any(array(select x->>'id' from jsonb_array_elements(p_events) x));

  if v_existing_count > 0 then
    if v_existing_count = v_count and jsonb_array_length(v_foreign_ids) = 0 then
      return jsonb_build_object('ok', true, 'version', v_current, 'events', v_existing, 'created', false);
    end if;
    return jsonb_build_object('ok', false, 'reason', 'duplicate_event_id',
      'ids', (select jsonb_agg(x->'id') from jsonb_array_elements(v_existing) x));
  end if;

  if (p_expected = 'no_stream' and v_current is not null)
     or (p_expected = 'stream_exists' and v_current is null)
     or (p_expected ~ '^[0-9]+$' and coalesce(v_current, 0) <> p_expected::bigint) then
    return jsonb_build_object('ok', false, 'reason', 'wrong_expected_version', 'actual', coalesce(v_current, 0));
  end if;

  insert into eventbus.streams as s (stream_id, version)
  values (p_stream_id, v_count)
  on conflict (stream_id) do update set version = s.version + v_count, updated_at = now();

  -- Reserve the whole block at once; under the lock nobody else draws from the sequence.
  v_last_position := setval('eventbus.event_position', nextval('eventbus.event_position') + v_count - 1);

  -- Positions and versions of the batch are contiguous, so the caller derives each event's from the
  -- first ones; building a per-event result here would cost more than the insert itself.
  insert into eventbus.events (position, stream_id, version, id, type, data, metadata)
  select v_last_position - v_count + p.ord, p_stream_id, coalesce(v_current, 0) + p.ord,
         p.ev->>'id', p.ev->>'type', p.ev->'data', nullif(p.ev->'metadata', 'null'::jsonb)
  from jsonb_array_elements(p_events) with ordinality as p(ev, ord);

  -- A wake-up only: listeners always read from their checkpoint. One per append, a few bytes.
  perform pg_notify('eventbus_events', v_last_position::text);

  return jsonb_build_object('ok', true, 'version', coalesce(v_current, 0) + v_count,
    'firstPosition', v_last_position - v_count + 1, 'created', true);
end;
$$;
`;
