import type { Sql } from "postgres";
import { z } from "zod";
import { EventBusError, validationFailed } from "../errors.ts";
import { readHeadPosition } from "../events/readAll.ts";
import { EVENTS_CHANNEL } from "../events/wakeListeners.ts";
import { parseWith } from "../validation.ts";

const replayRequest = z.strictObject({
  from: z.union([z.literal("origin"), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)], {
    error: 'must be "origin" or a position (an integer >= 0)',
  }),
});

/** `{from}` of `POST /operators/{name}/replay`: `origin` or the first position to apply again. */
export const parseOperatorReplay = (body: unknown): number | "origin" =>
  parseWith(replayRequest, body ?? {}, "Invalid replay request").from;

/**
 * Asks the operator's owner to apply events again from `from`: it calls the operator's `reset` and moves
 * the checkpoint in one transaction, then re-applies. Returns the checkpoint the replay starts after.
 * @throws {EventBusError} `OPERATOR_NOT_FOUND`; `VALIDATION_FAILED` for a position beyond the head.
 */
export async function replayOperator(sql: Sql, name: string, from: number | "origin"): Promise<number> {
  const first = from === "origin" ? 1 : from;
  const head = await readHeadPosition(sql);
  if (first > head + 1) {
    throw validationFailed(`Invalid replay request: /from ${first} is beyond the head (${head}).`, {
      errors: [{ pointer: "/from", message: `must be at most ${head + 1} (the head is ${head})` }],
      head,
    });
  }
  const checkpoint = Math.max(0, first - 1);
  const updated = await sql`
    update eventbus.operators set replay_from = ${checkpoint}, updated_at = now() where name = ${name}`;
  if (updated.count === 0) {
    throw new EventBusError("OPERATOR_NOT_FOUND", `Operator '${name}' does not exist.`, { name });
  }
  await sql`select pg_notify(${EVENTS_CHANNEL}, '0')`;
  return checkpoint;
}
