import { describe, expect, it } from "vitest";
import { createHs256Verifier, issueToken, type TokenVerifier } from "../../lib/auth/token.ts";
import { cacheVerifiedTokens } from "../../lib/http/cachedTokenVerifier.ts";

const secret = "cache-secret-cache-secret-cache-secret";

/** The real HS256 verifier on a settable clock, counting the signature checks it makes. */
function countingVerifier(clock: { now: number }) {
  const verify = createHs256Verifier(secret, { now: () => clock.now });
  const counted: TokenVerifier & { checks: number } = Object.assign(
    async (token: string) => {
      counted.checks++;
      return verify(token);
    },
    { checks: 0 },
  );
  return counted;
}

describe("cached token verification", () => {
  it("checks a token's signature once, then answers from memory with the same principal", async () => {
    const clock = { now: Date.now() };
    const verify = countingVerifier(clock);
    const cached = cacheVerifiedTokens(verify, { now: () => clock.now });
    const token = await issueToken(secret, { scope: "events:write", streams: ["orders-*"] });
    const first = await cached(token);
    for (let i = 0; i < 5; i++) expect(await cached(token)).toEqual(first);
    expect([...first.scopes]).toEqual(["events:write"]);
    expect(first.streams).toEqual(["orders-*"]);
    expect(verify.checks).toBe(1);
  });

  it("checks again after the time to live, and never accepts a token past its exp", async () => {
    const clock = { now: Date.now() };
    const verify = countingVerifier(clock);
    const cached = cacheVerifiedTokens(verify, { now: () => clock.now, ttlMs: 60_000 });
    const longLived = await issueToken(secret, { scope: "admin" });
    await cached(longLived);
    clock.now += 61_000;
    await cached(longLived);
    expect(verify.checks).toBe(2);

    const shortLived = await issueToken(secret, {
      scope: "admin",
      expiresIn: Math.floor(clock.now / 1000) + 2,
    });
    await cached(shortLived);
    // Past exp, and past the verifier's clock tolerance: refused, as if nothing had been remembered.
    clock.now += 10_000;
    await expect(cached(shortLived)).rejects.toMatchObject({
      code: "UNAUTHORIZED",
      message: "The token has expired.",
    });
  });

  it("remembers no refusal and no look-alike: every other token is checked in full", async () => {
    const clock = { now: Date.now() };
    const verify = countingVerifier(clock);
    const cached = cacheVerifiedTokens(verify, { now: () => clock.now });
    const token = await issueToken(secret, { scope: "admin" });
    await cached(token);
    const tampered = `${token.slice(0, -2)}${token.endsWith("A") ? "BB" : "AA"}`;
    await expect(cached(tampered)).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    await expect(cached(tampered)).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    const foreign = await issueToken("another-secret-another-secret-another", { scope: "admin" });
    await expect(cached(foreign)).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    expect(verify.checks).toBe(4);
  });

  it("keeps at most maxEntries tokens, forgetting the oldest first", async () => {
    const clock = { now: Date.now() };
    const verify = countingVerifier(clock);
    const cached = cacheVerifiedTokens(verify, { now: () => clock.now, maxEntries: 2 });
    const [a, b, c] = await Promise.all(
      ["a", "b", "c"].map((subject) => issueToken(secret, { scope: "admin", subject })),
    );
    await cached(a!);
    await cached(b!);
    await cached(c!); // forgets a
    await cached(b!);
    await cached(c!);
    expect(verify.checks).toBe(3);
    await cached(a!);
    expect(verify.checks).toBe(4);
  });
});
