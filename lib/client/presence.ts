/** A connection present on a topic: `subject` is its token's `sub`, `state` what it chose to show. */
export interface PresenceMember<TState = Record<string, unknown>> {
  connectionId: string;
  subject: string;
  state: TState;
  /** The topic's presence counter at this member's last change. */
  seq: number;
}

/** A presence frame from the server, as parsed JSON. */
export type PresenceFrame =
  | { type: "presence.sync"; topic: string; members: PresenceMember[] }
  | { type: "presence.join" | "presence.update" | "presence.leave"; topic: string; member: PresenceMember };

export const isPresenceFrame = (frame: { type: string }): frame is PresenceFrame =>
  frame.type === "presence.sync" ||
  frame.type === "presence.join" ||
  frame.type === "presence.update" ||
  frame.type === "presence.leave";

/**
 * The members of one topic, as this connection learns them. Frames of different changes are posted by
 * different server handlers and can arrive out of order, so per connection id only the frame with the
 * highest `seq` counts (present with its state, or gone), and a `presence.sync` is merged by the same rule
 * rather than replacing the list. Applied that way the list ends exact however the frames interleave.
 */
export class PresenceList {
  private readonly latest = new Map<string, { seq: number; member: PresenceMember | undefined }>();

  /** Applies a frame; returns whether the list changed. */
  apply(frame: PresenceFrame): boolean {
    if (frame.type === "presence.sync") {
      let changed = false;
      for (const member of frame.members) changed = this.set(member, true) || changed;
      return changed;
    }
    return this.set(frame.member, frame.type !== "presence.leave");
  }

  /** Everyone present, in the order of their last change. */
  members(): PresenceMember[] {
    return [...this.latest.values()]
      .flatMap(({ member }) => (member ? [member] : []))
      .sort((a, b) => a.seq - b.seq);
  }

  /** Forgets everything: a (re-)entered connection starts from the sync it is sent. */
  clear(): void {
    this.latest.clear();
  }

  private set(member: PresenceMember, present: boolean): boolean {
    const seen = this.latest.get(member.connectionId);
    if (seen && seen.seq >= member.seq) return false;
    this.latest.set(member.connectionId, { seq: member.seq, member: present ? member : undefined });
    return present || seen?.member !== undefined;
  }
}

/** This connection's presence on a topic, from `RealtimeClient.enterPresence`. */
export interface Presence<TState = Record<string, unknown>> {
  readonly topic: string;
  /** Everyone present now (this connection included), in the order of their last change. */
  members(): PresenceMember<TState>[];
  /** Replaces this connection's state; the others get `presence.update`. */
  update(state: TState): Promise<void>;
  /** Leaves the topic's presence; the others get `presence.leave`. */
  leave(): Promise<void>;
}
