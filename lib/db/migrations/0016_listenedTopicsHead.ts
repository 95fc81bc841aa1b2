/**
 * Each listened topic remembers the gap-safe head at the moment it was first marked, so that the listener's
 * realtime target can sleep while no topic is listened to at all (no head probe, page or checkpoint write
 * per wake-up: on a bus nobody watches live, that was most of the listener's work) and, when a topic is
 * marked, resume from that head instead of from where it fell asleep.
 *
 * Every event at or below the head a mark read committed before the mark, so before the subscription was
 * acknowledged (see lib/listener/realtimeAudience.ts); every event committed after it lies above. Rows from
 * before this migration get 0, which only makes a resume read more.
 */
export const listenedTopicsHead = /* sql */ `
alter table eventbus.listened_topics add column head bigint not null default 0;
`;
