import type { TestClient } from "./support.ts";

/**
 * What a client shows as "who is here" on one topic, built from the presence frames it received exactly as
 * the README tells clients to: per connection id, keep what the frame with the highest `seq` said; a sync
 * merges its members in by the same rule.
 */
export class PresenceView {
  private readonly seen = new Map<
    string,
    { seq: number; present: boolean; state: unknown; subject: string }
  >();

  /** Watches `client`'s socket from now on (independently of the frames tests take with `next`). */
  constructor(
    client: TestClient,
    readonly topic: string,
  ) {
    client.socket.on("message", (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.topic !== this.topic) return;
      if (frame.type === "presence.sync") for (const member of frame.members) this.apply(member, true);
      else if (frame.type === "presence.join" || frame.type === "presence.update")
        this.apply(frame.member, true);
      else if (frame.type === "presence.leave") this.apply(frame.member, false);
    });
  }

  private apply(member: any, present: boolean) {
    const known = this.seen.get(member.connectionId);
    if (known && known.seq >= member.seq) return;
    this.seen.set(member.connectionId, {
      seq: member.seq,
      present,
      state: member.state,
      subject: member.subject,
    });
  }

  /** Connection ids present, sorted. */
  ids(): string[] {
    return [...this.seen]
      .filter(([, entry]) => entry.present)
      .map(([id]) => id)
      .sort();
  }

  stateOf(connectionId: string): unknown {
    const entry = this.seen.get(connectionId);
    return entry?.present ? entry.state : undefined;
  }
}
