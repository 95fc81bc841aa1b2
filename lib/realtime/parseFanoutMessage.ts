import { z } from "zod";
import type { FanoutMessage } from "./fanoutMessage.ts";

const schema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("events"),
    // A decimal string since CloudEvents integers are 32-bit; a number from a listener of before that change.
    events: z.array(
      z.looseObject({ position: z.union([z.string().regex(/^\d+$/), z.number()]), streamid: z.string() }),
    ),
  }),
  z.object({
    kind: z.literal("message"),
    topic: z.string(),
    data: z.unknown(),
    sender: z.string().nullable(),
    excludeSelf: z.boolean(),
  }),
  z.object({
    kind: z.literal("deliver"),
    deliveries: z.array(
      z.object({ frames: z.array(z.looseObject({ type: z.string() })), connectionIds: z.array(z.string()) }),
    ),
  }),
]);

/** Parses the body of a fan-out queue message. @throws when it is not a `FanoutMessage`. */
export function parseFanoutMessage(body: string): FanoutMessage {
  const message: unknown = JSON.parse(body);
  schema.parse(message); // validated, but passed on as sent: CloudEvents keep their members' order
  return message as FanoutMessage;
}
