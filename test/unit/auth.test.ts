import { SignJWT } from "jose";
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

describe("token policy", () => {
  const key = new TextEncoder().encode(secret);
  const now = () => Math.floor(Date.now() / 1000);
  const sign = (claims: Record<string, unknown>, build: (jwt: SignJWT) => SignJWT = (jwt) => jwt) =>
    build(new SignJWT(claims).setProtectedHeader({ alg: "HS256" })).sign(key);

  it("refuses a token without exp, naming the claim", async () => {
    const verify = createHs256Verifier(secret);
    const token = await sign({ scope: "admin" }, (jwt) => jwt.setIssuer("eventbus").setIssuedAt());
    await expect(verify(token)).rejects.toMatchObject({
      code: "UNAUTHORIZED",
      message: "The token must carry 'exp'.",
    });
  });

  it("refuses a token without the expected iss, and checks aud when configured", async () => {
    const noIssuer = await sign({ scope: "admin" }, (jwt) => jwt.setIssuedAt().setExpirationTime("1h"));
    await expect(createHs256Verifier(secret)(noIssuer)).rejects.toMatchObject({
      code: "UNAUTHORIZED",
      message: "The token's 'iss' is not the expected issuer.",
    });
    const other = await issueToken(secret, { scope: "admin", issuer: "someone-else" });
    await expect(createHs256Verifier(secret)(other)).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    expect(await createHs256Verifier(secret, { issuer: "someone-else" })(other)).toMatchObject({
      subject: "local-admin",
    });

    const verifyAudience = createHs256Verifier(secret, { audience: "bus-a" });
    await expect(verifyAudience(await issueToken(secret, { scope: "admin" }))).rejects.toMatchObject({
      code: "UNAUTHORIZED",
      message: "The token's 'aud' is not the expected audience.",
    });
    await expect(
      verifyAudience(await issueToken(secret, { scope: "admin", audience: "bus-b" })),
    ).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    expect(
      await verifyAudience(await issueToken(secret, { scope: "admin", audience: "bus-a" })),
    ).toBeTruthy();
  });

  it("refuses a token that lives longer than the configured maximum", async () => {
    const verify = createHs256Verifier(secret, { maxLifetimeSeconds: 3600 });
    await expect(verify(await issueToken(secret, { scope: "admin", expiresIn: "2h" }))).rejects.toMatchObject(
      {
        code: "UNAUTHORIZED",
        details: { maxLifetimeSeconds: 3600 },
      },
    );
    // Without iat the lifetime counts from now.
    const noIat = await sign({ scope: "admin" }, (jwt) =>
      jwt.setIssuer("eventbus").setExpirationTime(now() + 7200),
    );
    await expect(verify(noIat)).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    expect(
      (await verify(await issueToken(secret, { scope: "admin", expiresIn: "30m" }))).expiresAt,
    ).toBeGreaterThan(now() + 1700);
  });

  it("issues tokens that expire (an hour by default)", async () => {
    const principal = await createHs256Verifier(secret)(await issueToken(secret, { scope: "admin" }));
    expect(principal.expiresAt! - now()).toBeGreaterThan(3500);
    expect(principal.expiresAt! - now()).toBeLessThanOrEqual(3600);
  });
});
