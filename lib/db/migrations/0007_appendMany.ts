/**
 * Appends to many streams in one statement, in order: change capture stores a batch of source transactions
 * (one event per changed row, each in its own stream) with one round trip instead of one per row. Each
 * element goes through `append_to_stream` exactly as a single append would (expected version `any`, no id
 * check: capture ids are fresh), so positions follow the array's order. One NOTIFY for the whole batch.
 *
 *   p_batch: [{"s": "<stream id>", "e": [{"id", "type", "data", "metadata"}, ...]}, ...]
 */
export const appendMany = /* sql */ `
create or replace function eventbus.append_many(p_batch jsonb, p_notify boolean)
returns void
language plpgsql
as $$
declare
  v_item jsonb;
  v_outcome jsonb;
begin
  for v_item in select value from jsonb_array_elements(p_batch) with ordinality order by ordinality loop
    v_outcome := eventbus.append_to_stream(v_item->>'s', 'any', v_item->'e', false, false);
    if not (v_outcome->>'ok')::boolean then
      raise exception 'append to % refused: %', v_item->>'s', v_outcome;
    end if;
  end loop;
  if p_notify then
    perform pg_notify('eventbus_events', '0');
  end if;
end;
$$;
`;
