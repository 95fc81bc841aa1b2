import { randomUUID } from "node:crypto";

/**
 * Ids the bus assigns to events appended without one (migration 0019): a UUIDv7 (RFC 9562) whose last 48
 * bits are the event's position, `tttttttt-tttt-7b05-vrrr-pppppppppppp`. Unix milliseconds first, so the
 * ids are time-ordered; `b05` in `rand_a` marks an id the bus may have assigned; 14 random bits; then the
 * position, a counter as RFC 9562 allows in a UUIDv7's random bits. The position makes the id unique and
 * lets a retry that re-sends it be found with one primary-key probe, so these ids need no entry in the
 * identity index; the time keeps them from repeating when a store is re-created.
 *
 * The prefix is drawn per append (every event of a batch shares it) and the database builds the same text
 * (`eventbus.assigned_event_id`) as it draws the positions.
 */
export function newAssignedIdPrefix(): string {
  const time = Date.now().toString(16).padStart(12, "0");
  // randomUUID's 20th character is already a valid variant nibble (8, 9, a or b): 14 random bits in all.
  return `${time.slice(0, 8)}-${time.slice(8)}-7b05-${randomUUID().slice(19, 23)}-`;
}

/** The id assigned to the event at `position` under `prefix` (see {@link newAssignedIdPrefix}). */
export function assignedEventId(prefix: string, position: number): string {
  return prefix + position.toString(16).padStart(12, "0");
}

const ASSIGNED_FORM = /^[0-9a-f]{8}-[0-9a-f]{4}-7b05-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * Whether `id` has the form of an id the bus assigns, so that an event re-sent with it may be a retry of
 * an event the bus named (found through the position it carries, not through the identity index).
 */
export function hasAssignedIdForm(id: string): boolean {
  return ASSIGNED_FORM.test(id);
}
