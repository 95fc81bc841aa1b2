import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { createHs256Verifier } from "../../lib/auth/token.ts";

const secret = "mint-secret-mint-secret-mint-secret";

/** Runs `npm run token -- ...args` the way npm does (tsx on the script), with a known secret. */
function mint(...args: string[]) {
  const result = spawnSync(process.execPath, ["--import", "tsx", "lib/local/mintToken.ts", ...args], {
    encoding: "utf8",
    env: { ...process.env, EVENTBUS_JWT_SECRET: secret },
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("npm run token", () => {
  it("answers --help with the usage and exit code 0", () => {
    const result = mint("--help");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("Usage: npm run token");
    expect(result.stdout).toContain("--expires");
    expect(result.stderr).toBe("");
  });

  it("refuses bad arguments with one line and exit code 2, never a stack trace", () => {
    for (const args of [["--bogus"], ["--scope"], ["--scope", "nope"], ["--expires", "forever"], ["extra"]]) {
      const result = mint(...args);
      expect(result.status, args.join(" ")).toBe(2);
      expect(result.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(result.stderr).not.toMatch(/\bat \S+ \(|node:internal/);
      expect(result.stdout).toBe("");
    }
  }, 120_000);

  it("mints a token that expires, with the scope and lifetime asked for", async () => {
    const result = mint("--scope", "events:read", "--expires", "2h");
    expect(result.status).toBe(0);
    const principal = await createHs256Verifier(secret)(result.stdout.trim());
    expect([...principal.scopes]).toEqual(["events:read"]);
    expect(principal.expiresAt! - Date.now() / 1000).toBeGreaterThan(7100);
  });
});
