import { createHash } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { createPostSigner, Sha256 } from "../../lib/realtime/postSigner.ts";
import { fuzzRuns } from "../support/fuzz.ts";

// API Gateway checks every PostToConnection's SigV4 signature: the broadcaster's own signer must send
// exactly the headers the SDK's signer would, for any connection id, stage, region and credentials.

/** What the SDK client's path serializer does to the connection id (`extendedEncodeURIComponent`). */
const encodeSegment = (value: string) =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** `x-amz-date` back to the instant the SDK's signer takes as `signingDate`. */
const signingDate = (amzDate: string) =>
  new Date(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"));

async function sdkHeaders(
  input: { region: string; host: string; path: string; body: Uint8Array; date: Date },
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
) {
  const url = new URL(`https://${input.host}`);
  const signer = new SignatureV4({
    service: "execute-api",
    region: input.region,
    credentials,
    sha256: Sha256,
    uriEscapePath: true,
  });
  const signed = await signer.sign(
    {
      method: "POST",
      protocol: "https:",
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: input.path,
      query: {},
      headers: {
        host: input.host,
        "content-type": "application/octet-stream",
        "content-length": String(input.body.byteLength),
        "x-amz-content-sha256": createHash("sha256").update(input.body).digest("hex"),
      },
      body: input.body,
    },
    { signingDate: input.date },
  );
  return signed.headers;
}

const connectionId = fc.oneof(
  // API Gateway's own shape: 12 base64 characters, which may hold `+`, `/` and `=`.
  fc.stringMatching(/^[A-Za-z0-9+/]{11}=$/),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }),
  fc.constantFrom(".", "..", "a/../b", "%41", "a b", "(!'*)", "é", "\u{1F600}"),
);
const stage = fc.constantFrom("", "/prod", "/dev-1", "/a b", "/v1/nested");
const secret = fc.stringMatching(/^[A-Za-z0-9/+]{1,40}$/);

describe("the PostToConnection signer", () => {
  it("sends the SDK signer's headers for any connection id, stage, region and credentials", async () => {
    await fc.assert(
      fc.asyncProperty(
        connectionId,
        stage,
        fc.constantFrom("us-east-1", "eu-west-1", "ap-southeast-2"),
        fc.constantFrom("abc123.execute-api.eu-west-1.amazonaws.com", "127.0.0.1:4001", "localhost:80"),
        fc.record(
          {
            accessKeyId: fc.stringMatching(/^[A-Z0-9]{4,20}$/),
            secretAccessKey: secret,
            sessionToken: secret,
          },
          { requiredKeys: ["accessKeyId", "secretAccessKey"] },
        ),
        fc.uint8Array({ maxLength: 300 }),
        async (id, stagePath, region, host, credentials, body) => {
          const path = `${stagePath}/@connections/${encodeSegment(id)}`;
          const signer = createPostSigner({ region, host, credentials: async () => credentials });
          const hash = createHash("sha256").update(body).digest("hex");
          const ours = await signer.sign(path, body, hash);
          const date = signingDate(ours["x-amz-date"]!);
          expect(ours).toEqual(await sdkHeaders({ region, host, path, body, date }, credentials));
          // The synchronous path a broadcast's posts take after the first: the same headers.
          const now = signer.signNow(path, body, hash)!;
          const nowDate = signingDate(now["x-amz-date"]!);
          expect(now).toEqual(await sdkHeaders({ region, host, path, body, date: nowDate }, credentials));
        },
      ),
      { numRuns: fuzzRuns(300), seed: 10 },
    );
  });

  it("signs without waiting only with credentials the provider gave less than a second ago", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      let credentials = { accessKeyId: "AKIDOLD", secretAccessKey: "old-secret" };
      const signer = createPostSigner({
        region: "eu-west-1",
        host: "abc.execute-api.eu-west-1.amazonaws.com",
        credentials: async () => credentials,
      });
      const body = new TextEncoder().encode('{"type":"message"}');
      const hash = createHash("sha256").update(body).digest("hex");
      const path = "/prod/@connections/L0SM9cOFvHcCIhw%3D";
      // Nothing asked of the provider yet: the caller must wait for `sign`.
      expect(signer.signNow(path, body, hash)).toBeUndefined();
      await signer.sign(path, body, hash);
      credentials = { accessKeyId: "AKIDNEW", secretAccessKey: "new-secret" };
      vi.advanceTimersByTime(999);
      expect(signer.signNow(path, body, hash)?.authorization).toContain("Credential=AKIDOLD/");
      vi.advanceTimersByTime(1);
      expect(signer.signNow(path, body, hash)).toBeUndefined();
      expect((await signer.sign(path, body, hash)).authorization).toContain("Credential=AKIDNEW/");
      expect(signer.signNow(path, body, hash)?.authorization).toContain("Credential=AKIDNEW/");
      // The signing key is the day's: past midnight UTC, `sign` again.
      vi.setSystemTime(new Date("2026-12-01T23:59:59.500Z"));
      await signer.sign(path, body, hash);
      vi.advanceTimersByTime(600);
      expect(signer.signNow(path, body, hash)).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
  });

  it("signs with refreshed credentials as soon as the provider returns them", async () => {
    let credentials = { accessKeyId: "AKIDOLD", secretAccessKey: "old-secret" };
    const signer = createPostSigner({
      region: "eu-west-1",
      host: "abc.execute-api.eu-west-1.amazonaws.com",
      credentials: async () => credentials,
    });
    const body = new TextEncoder().encode('{"type":"message"}');
    const hash = createHash("sha256").update(body).digest("hex");
    const path = "/prod/@connections/L0SM9cOFvHcCIhw%3D";
    await signer.sign(path, body, hash);
    credentials = { accessKeyId: "AKIDNEW", secretAccessKey: "new-secret", sessionToken: "token" } as never;
    const ours = await signer.sign(path, body, hash);
    expect(ours.authorization).toContain("Credential=AKIDNEW/");
    const host = "abc.execute-api.eu-west-1.amazonaws.com";
    const date = signingDate(ours["x-amz-date"]!);
    expect(ours).toEqual(await sdkHeaders({ region: "eu-west-1", host, path, body, date }, credentials));
  });
});
