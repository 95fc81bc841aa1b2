import type { Sql } from "postgres";
import { checkpointOwner } from "../subscriptions/ownership.ts";

/** The checkpoint of the listener's forwarding of events to the realtime fan-out queue. */
export const REALTIME_CHECKPOINT = "$realtime";

/** Whether the listener's forwarding to the realtime fan-out fails, and why (see forwardingFailures.ts). */
export interface RealtimeForwarding {
  /** The listener forwarding it, `null` when none does (nobody listens, or no listener runs). */
  owner: string | null;
  /** When its current streak of refused or failed sends began; `null` when its sends go through. */
  failingSince: Date | null;
  /** SQS's reason for the last failed send (kept after recovery), and when it came. */
  lastError: string | null;
  lastErrorAt: Date | null;
}

/**
 * Reads the realtime forwarding's state from its checkpoint row; `undefined` when realtime has never run.
 * As for subscriptions, only an owned forwarding can be failing: without an owner, nothing is sending.
 */
export async function readRealtimeForwarding(sql: Sql): Promise<RealtimeForwarding | undefined> {
  const [row] = await sql<[RealtimeForwarding?]>`
    select ${checkpointOwner(sql)} as owner, c.failing_since as "failingSince", c.last_error as "lastError",
      c.last_error_at as "lastErrorAt"
    from eventbus.checkpoints c where c.name = ${REALTIME_CHECKPOINT}`;
  if (!row) return undefined;
  return { ...row, failingSince: row.owner === null ? null : row.failingSince };
}
