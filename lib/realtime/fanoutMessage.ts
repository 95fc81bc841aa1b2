import type { EventBusCloudEvent } from "../events/types.ts";

/**
 * The body of a message on the realtime fan-out queue. The listener produces `events` messages (each a run
 * of consecutive events in position order, at most ~256 KB of JSON); the publish routes produce `message`
 * messages for ephemeral broadcasts. The broadcaster Lambda consumes both.
 */
export type FanoutMessage =
  | { kind: "events"; events: EventBusCloudEvent[] }
  | {
      kind: "message";
      topic: string;
      data: unknown;
      /** The publishing connection id, or `null` when a server published over HTTP. */
      sender: string | null;
      /** Like Phoenix's `broadcast_from`: do not deliver to the sender. */
      excludeSelf: boolean;
    };
