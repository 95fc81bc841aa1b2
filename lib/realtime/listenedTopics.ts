import type { Sql } from "postgres";
import { limits } from "../limits.ts";

/*
 * Which event topics (`stream:<id>`, `category:<name>`, `$all`) some connection may be subscribed to,
 * kept in Postgres (`eventbus.listened_topics`, migration 0011) so that the listener can leave events
 * nobody can receive live off the fan-out queue with one query per page.
 *
 * Why this cannot lose a live event: a subscribe marks its topic after writing its membership and before
 * acknowledging, and the listener looks topics up after it read a page, so after the page's events
 * committed. An event committed after an acknowledgement therefore finds its topic marked. An event
 * skipped because its topic was not marked committed before the subscription was acknowledged: a
 * subscription with `from` gets it from its history replay (see `seam.ts`), one without never asked for it.
 */

/**
 * Marks `topic` as listened to. Call after the membership is written and before acknowledging it. A first
 * mark records the gap-safe head it saw: the listener's realtime target, asleep while no topic is marked,
 * resumes there (see lib/listener/realtimeAudience.ts).
 */
export async function markTopicListened(sql: Sql, topic: string): Promise<void> {
  // A topic already marked is only touched: the safe head (a function reading the head probes) is taken
  // for a first mark alone, not for every subscribe to a busy topic.
  await sql`
    with touched as (
      update eventbus.listened_topics set listened_at = now() where topic = ${topic} returning 1
    )
    insert into eventbus.listened_topics (topic, head)
    select ${topic}, eventbus.safe_head() where not exists (select 1 from touched)
    on conflict (topic) do update set listened_at = now()`;
}

/**
 * Forgets topics no connection can still be subscribed to: marked longer ago than a connection can live
 * (a subscription that outlived that has reconnected and marked its topic again). A subscribe racing the
 * delete re-marks the row first (the delete re-checks it) or inserts it again after.
 */
export async function forgetStaleTopics(sql: Sql): Promise<number> {
  const olderThanMs = limits.webSocketMaxConnectionMs + 60 * 60 * 1000;
  const rows = await sql`
    delete from eventbus.listened_topics
    where listened_at < now() - make_interval(secs => ${olderThanMs / 1000})
    returning topic`;
  return rows.length;
}
