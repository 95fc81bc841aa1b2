import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PresenceList, type PresenceMember } from "../../lib/client/presence.ts";

type Change = { kind: "join" | "update" | "leave"; member: PresenceMember };

/** A room's history: each change gets the next `seq`, as the server numbers them. */
const history = fc
  .array(
    fc.record({ who: fc.integer({ min: 0, max: 5 }), kind: fc.constantFrom("join", "update", "leave") }),
    {
      maxLength: 40,
    },
  )
  .map((steps) =>
    steps.map(
      ({ who, kind }, i): Change => ({
        kind: kind as Change["kind"],
        member: { connectionId: `c${who}`, subject: `user-${who}`, state: { step: i }, seq: i + 1 },
      }),
    ),
  );

describe("PresenceList", () => {
  it("ends with exactly the members the last change of each says are present, in any arrival order", () => {
    fc.assert(
      fc.property(history, fc.integer(), fc.boolean(), (changes, seed, withSync) => {
        const truth = new Map<string, PresenceMember | undefined>();
        for (const { kind, member } of changes)
          truth.set(member.connectionId, kind === "leave" ? undefined : member);
        const expected = [...truth.values()].flatMap((m) => (m ? [m] : [])).sort((a, b) => a.seq - b.seq);

        const frames = changes.map(({ kind, member }) => ({
          type: `presence.${kind}` as const,
          topic: "room:t",
          member,
        }));
        // A sync taken at some point of the history (what an entering member is sent), arriving anywhere.
        const cut = Math.abs(seed) % (changes.length + 1);
        const atCut = new Map<string, PresenceMember | undefined>();
        for (const { kind, member } of changes.slice(0, cut))
          atCut.set(member.connectionId, kind === "leave" ? undefined : member);
        const sync = {
          type: "presence.sync" as const,
          topic: "room:t",
          members: [...atCut.values()].flatMap((m) => (m ? [m] : [])),
        };
        const all = withSync ? [...frames, sync] : frames;
        // Deterministic shuffle from the seed.
        let state = seed;
        const shuffled = all
          .map((frame) => {
            state = (state * 1103515245 + 12345) | 0;
            return { frame, key: state };
          })
          .sort((a, b) => a.key - b.key)
          .map(({ frame }) => frame);

        const list = new PresenceList();
        for (const frame of shuffled) list.apply(frame);
        expect(list.members()).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});
