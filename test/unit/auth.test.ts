import { describe, expect, it } from "vitest";
import { requireAccess } from "../../lib/auth/authorize.ts";
import { allowedByPatterns, globToLike, matchesStreamPattern } from "../../lib/auth/streamPatterns.ts";
import { bearerToken, createHs256Verifier, issueToken } from "../../lib/auth/token.ts";

const secret = "unit-secret-unit-secret-unit-secret";

describe("stream patterns", () => {
  it("matches globs literally apart from * and ?", () => {
    expect(matchesStreamPattern("orders-*", "orders-42")).toBe(true);
    expect(matchesStreamPattern("orders-*", "ordersX42")).toBe(false);
    expect(matchesStreamPattern("a.b", "axb")).toBe(false);
    expect(matchesStreamPattern("user-?", "user-1")).toBe(true);
    expect(matchesStreamPattern("user-?", "user-12")).toBe(false);
    expect(allowedByPatterns(undefined, "anything")).toBe(true);
    expect(allowedByPatterns([], "anything")).toBe(false);
  });

  it("turns globs into LIKE patterns with wildcards escaped", () => {
    expect(globToLike("orders_x-*")).toBe("orders\\_x-%");
    expect(globToLike("a%?")).toBe("a\\%_");
  });
});

describe("tokens", () => {
  it("round-trips scopes and streams", async () => {
    const verify = createHs256Verifier(secret);
    const principal = await verify(
      await issueToken(secret, { scope: "events:read realtime:subscribe", streams: ["a-*"] }),
    );
    expect([...principal.scopes]).toEqual(["events:read", "realtime:subscribe"]);
    expect(principal.streams).toEqual(["a-*"]);
    expect(() => requireAccess(principal, "events:read", "a-1")).not.toThrow();
    expect(() => requireAccess(principal, "events:read", "b-1")).toThrowError(
      expect.objectContaining({ code: "FORBIDDEN" }),
    );
    expect(() => requireAccess(principal, "events:write", "a-1")).toThrowError(
      expect.objectContaining({ code: "FORBIDDEN", details: { requiredScope: "events:write" } }),
    );
  });

  it("refuses other secrets, expired tokens and malformed headers", async () => {
    const verify = createHs256Verifier(secret);
    await expect(
      verify(await issueToken("another-secret-another-secret", { scope: "admin" })),
    ).rejects.toMatchObject({
      code: "UNAUTHORIZED",
    });
    const expired = await issueToken(secret, {
      scope: "admin",
      expiresIn: Math.floor(Date.now() / 1000) - 60,
    });
    await expect(verify(expired)).rejects.toMatchObject({
      code: "UNAUTHORIZED",
      message: "The token has expired.",
    });
    expect(() => bearerToken(undefined)).toThrowError(expect.objectContaining({ code: "UNAUTHORIZED" }));
    expect(() => bearerToken("Basic abc")).toThrowError(expect.objectContaining({ code: "UNAUTHORIZED" }));
    expect(bearerToken("bearer abc.def.ghi")).toBe("abc.def.ghi");
  });
});
