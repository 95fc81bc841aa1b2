import type { Sql } from "postgres";
import { readSafeHead } from "../events/readSafeHead.ts";
import { EVENTS_CHANNEL } from "../events/wakeListeners.ts";
import { assertNotBeyondHead } from "./assertNotBeyondHead.ts";
import type { StartFrom } from "./definition.ts";
import { getSubscription } from "./getSubscription.ts";

/**
 * Moves a subscription's checkpoint (back to redeliver, or forward to skip): the listener then forwards
 * every matching event from position `from` on again. The generation bump makes the owner drop the page it may be
 * forwarding, so its late checkpoint write cannot undo the replay.
 *
 * @returns the new checkpoint.
 * @throws {EventBusError} `SUBSCRIPTION_NOT_FOUND`; `VALIDATION_FAILED` for a `from` beyond the head.
 */
export async function replaySubscription(sql: Sql, name: string, from: StartFrom): Promise<number> {
  await getSubscription(sql, name);
  if (typeof from === "number") await assertNotBeyondHead(sql, "from", from);
  // A numeric `from` is the first position delivered again; the checkpoint is the last one done.
  const position =
    from === "origin" ? 0 : from === "current" ? await readSafeHead(sql) : Math.max(0, from - 1);
  await sql`
    update eventbus.checkpoints set position = ${position}, generation = generation + 1, updated_at = now()
    where name = ${name}`;
  // Wake the listeners so the replay starts now rather than at the next poll.
  await sql`select pg_notify(${EVENTS_CHANNEL}, '0')`;
  return position;
}
