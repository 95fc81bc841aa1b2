/**
 * A stream's version is its newest event's: appends no longer write a stream row.
 *
 * Until now every append upserted `eventbus.streams` to reserve its versions and to take turns with other
 * writers of the stream. That row write (a speculative insert or a tuple update, its index work and WAL
 * records) cost as much Postgres time as the event itself for single-event appends. Now:
 *  - The version comes from the `(stream_id, version)` index (one descent to the last entry), read by the
 *    statement that inserts the events.
 *  - Writers of one stream conflict through that unique index, as the issue of record asked: of two appends
 *    that read the same version, the second waits for the first to end and then meets the first's versions.
 *    The plain statement (lib/events/appendToStream.ts) gets a unique violation and its caller reads again;
 *    this function, which callers also run inside their own transactions, inserts with
 *    `on conflict do nothing`, so a conflict never aborts the caller's transaction: it removes whatever
 *    it inserted before the conflict (its own uncommitted rows) and reads again. Expected-version checks
 *    run on the version read, so their outcomes are exactly as before.
 *  - `eventbus.streams` stays as the registry of stream ids and creation times (for listing streams), written
 *    once per stream, by the append that creates it.
 *  - Gap safety (0003): the transaction id is still taken before any position is drawn, now explicitly.
 *
 * Moving data: every stream's version already is its newest event's, so dropping the column loses nothing.
 */
export const versionsFromEvents = /* sql */ `
alter table eventbus.streams drop column version;

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
  v_inserted int;
  v_first bigint;
  v_last bigint;
  v_positions bigint[];
  v_refusal jsonb;
begin
  -- Gap safety, step 1 (see 0003's header): the transaction id before any position.
  perform pg_current_xact_id();

  loop
    v_refusal := null;
    -- Each statement reads what every writer that ended before it committed (read committed).
    select coalesce(max(e.version), 0) into v_current from eventbus.events e where e.stream_id = p_stream_id;
    v_after := v_current + v_count;

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
        return jsonb_build_object('ok', true, 'version', v_current, 'events', v_existing, 'created', false);
      elsif v_existing_count > 0 then
        return jsonb_build_object('ok', false, 'reason', 'duplicate_event_id',
          'ids', (select jsonb_agg(x->'id') from jsonb_array_elements(v_existing) x));
      end if;
    end if;

    if (p_expected = 'no_stream' and v_current > 0)
      or (p_expected = 'stream_exists' and v_current = 0)
      or (p_expected ~ '^[0-9]+$' and v_current <> p_expected::bigint) then
      return jsonb_build_object('ok', false, 'reason', 'wrong_expected_version', 'actual', v_current);
    end if;

    -- Versions are emitted as the CloudEvents Integer streamversion, which is 32-bit (0009).
    if v_after > 2147483647 then
      return jsonb_build_object('ok', false, 'reason', 'stream_version_limit', 'actual', v_current);
    end if;

    if v_current = 0 then
      insert into eventbus.streams (stream_id) values (p_stream_id) on conflict do nothing;
    end if;

    with inserted as (
      insert into eventbus.events (position, stream_id, version, id, type, data, metadata)
      select nextval('eventbus.event_position'), p_stream_id, v_current + p.ord,
             p.ev->>'id', p.ev->>'type', p.ev->'data', nullif(p.ev->'metadata', 'null'::jsonb)
      from jsonb_array_elements(p_events) with ordinality as p(ev, ord)
      order by p.ord
      on conflict (stream_id, version) do nothing
      returning position
    )
    select count(*), min(position), max(position), array_agg(position order by position)
    into v_inserted, v_first, v_last, v_positions
    from inserted;

    exit when v_inserted = v_count;
    -- Another writer took some of these versions (and has committed: the conflict check waited for it).
    -- Undo this attempt's own rows, if any went in past the conflict, and read the stream again.
    if v_inserted > 0 then
      delete from eventbus.events where position = any(v_positions);
    end if;
  end loop;

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
