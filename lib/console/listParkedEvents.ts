import type { Sql } from "postgres";

/** A parked event as the console shows it: the event's identity and SQS's reason for refusing it. */
export interface ParkedEventView {
  position: string;
  eventId: string;
  streamId: string | null;
  type: string | null;
  reason: string;
  parkedAt: string;
}

export interface ParkedPage {
  parked: ParkedEventView[];
  /** Pass as `after` for the next page; `null` on the last one. */
  next: string | null;
}

/**
 * A subscription's parked events in position order, a keyset page at a time, with each event's stream and
 * type (absent when the event itself is gone, which the store does not do today but a retention job could).
 */
export async function listParkedEvents(
  sql: Sql,
  name: string,
  options: { after?: number; limit: number },
): Promise<ParkedPage> {
  const rows = await sql<
    {
      position: string;
      event_id: string;
      stream_id: string | null;
      type: string | null;
      reason: string;
      parked_at: Date;
    }[]
  >`
    select p.position::text as position, p.event_id, e.stream_id, e.type, p.reason, p.parked_at
    from eventbus.parked p left join eventbus.events e on e.position = p.position
    where p.name = ${name} and p.position > ${options.after ?? -1}
    order by p.position
    limit ${options.limit + 1}`;
  const more = rows.length > options.limit;
  const page = more ? rows.slice(0, options.limit) : rows;
  return {
    parked: page.map((r) => ({
      position: r.position,
      eventId: r.event_id,
      streamId: r.stream_id,
      type: r.type,
      reason: r.reason,
      parkedAt: r.parked_at.toISOString(),
    })),
    next: more ? page.at(-1)!.position : null,
  };
}
