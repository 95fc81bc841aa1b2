/**
 * Stream versions stay CloudEvents Integers. Every event leaves the bus with its version as the
 * `streamversion` extension attribute, a JSON number, and CloudEvents integers are 32-bit: a version above
 * 2,147,483,647 would make every event after it invalid for a conformant consumer (the official SDKs refuse
 * it in strict mode). `append_to_stream` now refuses an append that would take a stream past that version,
 * as an outcome (`{"ok": false, "reason": "stream_version_limit", "actual": n}`), not an error, so a caller
 * appending inside its own transaction is not forced into a rollback. The check comes after the idempotency
 * check, so re-sending the events that filled a stream is still an idempotent success.
 *
 * Otherwise the function is 0004's, statement for statement (every concurrency property of 0003 holds).
 * The plain-statement append of events with fresh ids checks the same limit in its own SQL
 * (lib/events/appendToStream.ts).
 *
 * Events without data: the function inserts `p.ev->'data'`, which is SQL NULL when an event's JSON has no
 * `data` member and the JSON `null` when it has `"data": null`, so the two stay apart with no change here.
 */
export const streamVersionLimit = /* sql */ `
-- As in 0004, plus the version limit (marked below).
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

  -- New in 0009: versions are emitted as the CloudEvents Integer streamversion, which is 32-bit.
  if v_refusal is null and v_after > 2147483647 then
    v_refusal := jsonb_build_object('ok', false, 'reason', 'stream_version_limit', 'actual', v_current);
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
