import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueToken } from "../../lib/auth/token.ts";
import { startTestHttpApi, TEST_JWT_SECRET, type TestHttpApi } from "../support/httpApi.ts";

let api: TestHttpApi;
beforeAll(async () => {
  // The deployment's token policy, read from the environment by the handlers' runtime.
  api = await startTestHttpApi({
    EVENTBUS_TOKEN_MAX_LIFETIME_SECONDS: "3600",
    EVENTBUS_JWT_ISSUER: "https://issuer.example",
    EVENTBUS_JWT_AUDIENCE: "eventbus-api",
  });
});
afterAll(() => api.close());

const mint = (claims: { expiresIn?: string; issuer?: string; audience?: string }) =>
  issueToken(TEST_JWT_SECRET, { scope: "admin", ...claims });

describe("the configured token policy", () => {
  it("accepts a token of the configured issuer and audience within the maximum lifetime", async () => {
    const token = await mint({
      expiresIn: "30m",
      issuer: "https://issuer.example",
      audience: "eventbus-api",
    });
    expect((await api.request("GET", "/subscriptions", { token })).status).toBe(200);
  });

  it("refuses tokens living longer than EVENTBUS_TOKEN_MAX_LIFETIME_SECONDS, or of another issuer or audience", async () => {
    const cases = [
      {
        claims: { expiresIn: "2h", issuer: "https://issuer.example", audience: "eventbus-api" },
        says: /longer/,
      },
      { claims: { expiresIn: "30m", audience: "eventbus-api" }, says: /'iss'/ },
      { claims: { expiresIn: "30m", issuer: "https://issuer.example", audience: "other" }, says: /'aud'/ },
    ];
    for (const { claims, says } of cases) {
      const response = await api.request("GET", "/subscriptions", { token: await mint(claims) });
      expect(response.status).toBe(401);
      expect(response.body).toMatchObject({ code: "UNAUTHORIZED", detail: expect.stringMatching(says) });
    }
  });
});
