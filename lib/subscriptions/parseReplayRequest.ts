import { z } from "zod";
import { parseWith } from "../validation.ts";
import { START_POSITION_RULE, type StartFrom } from "./definition.ts";

export const replaySchema = z
  .object({
    from: z.union(
      [z.literal("origin"), z.literal("current"), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)],
      { error: START_POSITION_RULE },
    ),
  })
  .strict();

/**
 * `{from}` of `POST /subscriptions/{name}/replay`: `origin`, `current`, or the first position
 * to deliver again.
 * @throws {EventBusError} `VALIDATION_FAILED`.
 */
export const parseReplayRequest = (body: unknown): StartFrom =>
  parseWith(replaySchema, body ?? {}, "Invalid replay request").from;
