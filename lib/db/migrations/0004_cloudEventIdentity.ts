/**
 * CloudEvents identity: an event is identified by its `source` and `id` (CloudEvents 1.0, "id": producers
 * ensure that source + id is unique for each distinct event), so idempotency is per stream, source and id.
 *
 * `events.metadata` now holds the event's CloudEvents attributes as its producer set them: `source`, `time`,
 * `subject`, `dataschema`, `datacontenttype` and extension attributes, every value a scalar (string,
 * boolean or 32-bit integer) under a spec-valid name. What the bus adds when it emits an event (`streamid`,
 * `streamversion`, `position`, and the defaults for a missing `source`, `time`, `subject`) is never stored.
 * The column keeps its name so that every reader of the table keeps working.
 *
 * `source` is derived from it (a stored generated column, so it can never disagree), '' when the producer
 * set none: such events read with the bus's configured source. '' is never a valid source (the spec wants
 * a non-empty URI-reference), so it cannot collide with one a producer set.
 *
 * Moving what is stored: before this migration `metadata` was any JSON object (plain-JSON appends'
 * `metadata`, or a CloudEvent's attributes other than id, type and data). An object whose every member is
 * already a valid extension (name `[a-z0-9]{1,20}`, not an attribute of the spec or of the bus, a scalar
 * value) is kept as is and reads as those extensions, as a new append would. Any other object is kept
 * whole, as its JSON text, in one string extension named `metadata`: nothing is lost and every event stays
 * a valid CloudEvent. Those events keep the identity they had (their `source` is '').
 *
 * `append_to_stream` is replaced with the same signature and the same statements as in 0003 (every
 * concurrency property described there holds unchanged); only the idempotency lookup now matches on the
 * source too.
 */
export const cloudEventIdentity = /* sql */ `
update eventbus.events e set metadata = jsonb_build_object('metadata', e.metadata::text)
where e.metadata is not null and (
  jsonb_typeof(e.metadata) <> 'object' or exists (
    select 1 from jsonb_each(e.metadata) m(k, v)
    where k !~ '^[a-z0-9]{1,20}$'
      or k in ('specversion', 'id', 'source', 'type', 'datacontenttype', 'dataschema', 'subject', 'time',
               'data', 'data_base64', 'streamid', 'streamversion', 'position')
      -- A case, not an or: SQL does not promise to test the type before the cast.
      or not (case jsonb_typeof(v)
                when 'number' then v::numeric = trunc(v::numeric)
                  and v::numeric between -2147483648 and 2147483647
                else jsonb_typeof(v) in ('string', 'boolean')
              end)));

update eventbus.events set metadata = null where metadata = '{}'::jsonb;

alter table eventbus.events
  add column source text not null generated always as (coalesce(metadata->>'source', '')) stored;

alter table eventbus.events drop constraint events_stream_id_key;
alter table eventbus.events add constraint events_stream_id_source_key unique (stream_id, id, source);

-- As in 0003, except the idempotency lookup (marked below). p_events members' "metadata" is the event's
-- attributes object (see the header).
create or replace function eventbus.append_to_stream(p_stream_id text, p_expected text, p_events jsonb,
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
  -- Gap safety, step 1 (see 0003's header): the transaction id before any position.
  perform pg_current_xact_id();

  insert into eventbus.streams as s (stream_id, version) values (p_stream_id, v_count)
  on conflict (stream_id) do update set version = s.version + v_count
  returning s.version into v_after;
  v_current := v_after - v_count;

  if v_current > 0 and p_check_ids then
    -- Idempotent retry: every (source, id) already in this stream, in the same order, is a success that
    -- appends nothing. The same id from another source is another event.
    select count(*),
      coalesce(jsonb_agg(jsonb_build_object('id', e.id, 'version', e.version, 'position', e.position)
        order by p.ord), '[]'::jsonb)
    into v_existing_count, v_existing
    from jsonb_array_elements(p_events) with ordinality as p(ev, ord)
    join eventbus.events e on e.stream_id = p_stream_id and e.id = p.ev->>'id'
      and e.source = coalesce(p.ev->'metadata'->>'source', '');
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
