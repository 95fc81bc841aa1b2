import type { EventBusCloudEvent } from "../events/types.ts";
import type { ServerFrame } from "./frames.ts";

/**
 * The body of a message on the realtime fan-out queue. The listener produces `events` messages (each a run
 * of consecutive events in position order, at most ~256 KB of JSON); the publish routes produce `message`
 * messages for ephemeral broadcasts. The broadcaster Lambda consumes both, and for a large topic hands
 * parts of the posting to other invocations of itself as `deliver` messages (see `broadcast.ts`).
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
    }
  | {
      kind: "deliver";
      /** Frames already selected for each connection (filters and seams applied), to be posted as they are. */
      deliveries: Array<{ frames: ServerFrame[]; connectionIds: string[] }>;
    };
