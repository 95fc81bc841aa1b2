import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EventBusError } from "../../lib/errors.ts";
import { matchesEventPattern, validateEventPattern } from "../../lib/subscriptions/eventPattern.ts";
import { fuzzRuns } from "../support/fuzz.ts";

/** Pattern-shaped JSON: operator objects with arguments of every type, `$or` anywhere, odd keys. */
const keys = fc.constantFrom("a", "b", "$or", "prefix", "data", "type", "position", "streamversion", "");
const operator = fc.constantFrom(
  "prefix",
  "suffix",
  "equals-ignore-case",
  "wildcard",
  "numeric",
  "exists",
  "cidr",
  "anything-but",
  "exactly",
);
const shaped: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.jsonValue({ maxDepth: 2 }),
    fc.string({ maxLength: 12 }),
    fc.constantFrom("10.0.0.0/8", "::/0", "a**b", "a\\b", "\\*", ">", "<=", "=", 1e308, -0, 2 ** 60),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(operator, tie("value"), { maxKeys: 2 }),
    fc.dictionary(keys, tie("value"), { maxKeys: 3 }),
  ),
})).value;

describe("hostile patterns", () => {
  it("are either accepted or refused with VALIDATION_FAILED, and an accepted one never throws on any event", () => {
    let accepted = 0;
    fc.assert(
      fc.property(shaped, fc.jsonValue({ maxDepth: 4 }), (candidate, event) => {
        let pattern: ReturnType<typeof validateEventPattern>;
        try {
          pattern = validateEventPattern(candidate);
        } catch (error) {
          expect(error).toBeInstanceOf(EventBusError);
          expect((error as EventBusError).code).toBe("VALIDATION_FAILED");
          expect((error as Error).message).toMatch(/^Invalid filter: \//);
          return;
        }
        accepted++;
        expect(typeof matchesEventPattern(pattern, event)).toBe("boolean");
      }),
      { numRuns: fuzzRuns(3000), seed: 7 },
    );
    expect(accepted).toBeGreaterThan(20);
  });

  it("a wildcard with many stars stays fast on a long value", () => {
    const pattern = validateEventPattern({ s: [{ wildcard: `${"a*".repeat(200)}b` }] });
    const started = performance.now();
    expect(matchesEventPattern(pattern, { s: "a".repeat(100_000) })).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("an ignore-case suffix stays fast on a long value", () => {
    const pattern = validateEventPattern({ s: [{ suffix: { "equals-ignore-case": "ß".repeat(500) } }] });
    const started = performance.now();
    expect(matchesEventPattern(pattern, { s: `${"S".repeat(100_000)}x` })).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
