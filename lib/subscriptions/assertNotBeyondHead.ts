import type { Sql } from "postgres";
import { validationFailed } from "../errors.ts";
import { readHeadPosition } from "../events/readAll.ts";

/**
 * Refuses a start position past the next one the log can hand out. A checkpoint there would wait for
 * positions that may never come, silently (lag 0, nothing delivered); `head + 1`, the next event, is the
 * furthest a subscription can sensibly start.
 *
 * @param field the request member, named in the error (`startFrom`, `from`).
 * @throws {EventBusError} `VALIDATION_FAILED` naming the field, the position and the head.
 */
export async function assertNotBeyondHead(sql: Sql, field: string, position: number): Promise<void> {
  const head = await readHeadPosition(sql);
  if (position > head + 1) {
    throw validationFailed(
      `${field} ${position} is beyond the head position ${head}: give a position up to ${head + 1} (the next event), or "current".`,
      { errors: [{ pointer: `/${field}`, message: `must be at most ${head + 1}` }], head },
    );
  }
}
