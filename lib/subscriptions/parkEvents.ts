import type { Sql } from "postgres";
import { metrics } from "../metrics/registry.ts";

/** An event a sink refused for good, and why. */
export interface ParkedEvent {
  position: number;
  eventId: string;
  reason: string;
}

/**
 * Records events a sink refused for good under a forwarder's name, so that its checkpoint can move on
 * visibly: the subscription's status counts them, and a redrive sends them again. Parking the same event
 * again (after a replay, say) updates its reason.
 */
export async function parkEvents(sql: Sql, name: string, events: readonly ParkedEvent[]): Promise<void> {
  if (events.length === 0) return;
  await sql`
    insert into eventbus.parked (name, position, event_id, reason)
    select ${name}, p.position, p.event_id, p.reason
    from unnest(${events.map((e) => e.position)}::int8[], ${events.map((e) => e.eventId)}::text[],
      ${events.map((e) => e.reason.slice(0, 1000))}::text[]) as p(position, event_id, reason)
    on conflict (name, position) do update set reason = excluded.reason, parked_at = now()`;
  metrics.count("eventbus_parked_events_total", { subscription: name }, events.length);
}

/** Counts and the newest reason of a forwarder's parked events. */
export interface ParkedSummary {
  parked: number;
  lastParkedReason: string | null;
  lastParkedAt: string | null;
}

/** Parked counts of several forwarders at once, keyed by name (absent: none parked). */
export async function readParkedSummaries(
  sql: Sql,
  names: readonly string[],
): Promise<Map<string, ParkedSummary>> {
  const rows = await sql<{ name: string; parked: number; reason: string; parked_at: Date }[]>`
    select distinct on (name) name, count(*) over (partition by name)::int8 as parked, reason, parked_at
    from eventbus.parked where name = any(${names as string[]}::text[])
    order by name, parked_at desc, position desc`;
  return new Map(
    rows.map((r) => [
      r.name,
      { parked: r.parked, lastParkedReason: r.reason, lastParkedAt: r.parked_at.toISOString() },
    ]),
  );
}
