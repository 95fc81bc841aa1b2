import type { Sql } from "postgres";
import { holdsOwnerLock } from "./ownership.ts";

/**
 * Advances a checkpoint, fenced twice: the generation must be the one the page was read at (no replay in
 * between) and the session `lockPid` must still hold the ownership lock (no takeover in between).
 *
 * The write commits without waiting for the WAL flush: a crash may lose the last few advances, and the
 * listener then sends those events again (delivery is at least once), but never skips one. Waiting would
 * put one more flush per page in the queue every appender's commit waits in.
 *
 * `checkOwnership: false` skips the lock fence (reading `pg_locks` costs a few hundred microseconds of
 * server CPU), for a caller that proved ownership moments ago and watches its lock session itself.
 *
 * @returns `false` when either fence refused the write; the caller must re-read before going on.
 */
export async function storeCheckpoint(
  sql: Sql,
  options: { name: string; position: number; generation: number; lockPid: number; checkOwnership?: boolean },
): Promise<boolean> {
  const result = await sql`
    update eventbus.checkpoints c set position = ${options.position}, updated_at = now()
    where c.name = ${options.name} and c.generation = ${options.generation}
      and (select set_config('synchronous_commit', 'off', true)) is not null
      and ${options.checkOwnership === false ? sql`true` : holdsOwnerLock(sql, options.lockPid)}`;
  return result.count === 1;
}
