import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { versionCheck } from "../../lib/cli/doctor.ts";
import { type RealtimeHarness, startRealtimeHarness } from "../realtime/support.ts";
import { TEST_JWT_SECRET } from "../support/httpApi.ts";

/*
 * The `eventbus` binary run as a child process against the real local bus in this process: what it prints,
 * what `--json` gives scripts, and its exit codes. The usage test runs `lib/cli/main.ts` under tsx, as
 * `npm run eventbus` does; the rest run the same source bundled once by esbuild, because each tsx start
 * transpiles the CLI's imports again (seconds apiece on a busy two-core machine, for some forty runs).
 */

let h: RealtimeHarness;
let env: Record<string, string>;
const home = mkdtempSync(join(tmpdir(), "eventbus-cli-home-"));
const binary = join(home, "eventbus.mjs");
const suffix = randomBytes(3).toString("hex");
const packageVersion: string = JSON.parse(readFileSync("package.json", "utf8")).version;

beforeAll(async () => {
  await build({
    entryPoints: ["lib/cli/main.ts"],
    outfile: binary,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // Bundled CommonJS dependencies (commander, ws) call require.
    banner: {
      js: 'import { createRequire as createRequireForBundle } from "node:module"; const require = createRequireForBundle(import.meta.url);',
    },
    // ws's optional native add-ons, which it loads only if installed.
    external: ["bufferutil", "utf-8-validate"],
    logLevel: "warning",
  });
  h = await startRealtimeHarness();
  env = {
    EVENTBUS_URL: h.api.baseUrl,
    EVENTBUS_WS_URL: h.gateway.url,
    EVENTBUS_TOKEN: await h.token("admin", undefined, { expiresIn: "1h" }),
    // What `eventbus token` signs with (instead of a `.eventbus/jwt-secret` in the working directory).
    EVENTBUS_JWT_SECRET: TEST_JWT_SECRET,
  };
});
afterAll(() => h?.close());

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with the bus's URLs and an admin token in the environment (unless overridden). */
function cli(
  args: string[],
  options: {
    env?: Record<string, string | undefined>;
    stdin?: string;
    viaTsx?: boolean;
    cwd?: string;
    /**
     * Leaves stdout unread until the process exits or this long has passed, as a slow reader at the other
     * end of a pipe would: whatever the process had not written when it exited is lost.
     */
    readAfterMs?: number;
  } = {},
) {
  const entry = options.viaTsx ? ["--import", "tsx", "lib/cli/main.ts"] : [binary];
  const child = spawn(process.execPath, [...entry, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: {
      PATH: process.env.PATH,
      HOME: home,
      NO_COLOR: "1",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      ...env,
      ...options.env,
    } as NodeJS.ProcessEnv,
  });
  let stdout = "";
  let stderr = "";
  const readStdout = () => {
    if (child.stdout.listenerCount("data") > 0) return;
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
  };
  if (options.readAfterMs === undefined) readStdout();
  else {
    const timer = setTimeout(readStdout, options.readAfterMs);
    child.once("exit", () => {
      clearTimeout(timer);
      readStdout();
    });
  }
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  child.stdin.end(options.stdin ?? "");
  const done = new Promise<Run>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  return Object.assign(done, { child, output: () => stdout });
}

describe("usage", () => {
  it("prints help with exit code 0 and refuses bad usage with exit code 2 and one clear line", {
    timeout: 90_000,
  }, async () => {
    const help = await cli(["--help"], { viaTsx: true });
    expect(help.code).toBe(0);
    for (const command of ["append", "read", "tail", "subscriptions", "token", "doctor"]) {
      expect(help.stdout).toContain(command);
    }
    expect(help.stdout).toContain("Exit codes: 0 ok, 1 failure, 2 usage");
    const subHelp = await cli(["subscriptions", "replay", "--help"]);
    expect(subHelp.code).toBe(0);
    expect(subHelp.stdout).toContain("--from <from>");

    const unknown = await cli(["frobnicate"], { viaTsx: true });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    const badLimit = await cli(["read", "x", "--limit", "many"]);
    expect(badLimit).toMatchObject({ code: 2, stdout: "" });
    expect(badLimit.stderr).toContain("--limit must be an integer >= 1, got 'many'");
    const badJson = await cli(["append", "x", "--type", "A", "--data", "{nope"]);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain("--data is not valid JSON");
  });
});

describe("append and read", () => {
  it("appends from flags, arguments and stdin, reads back, and exits 4 on a version conflict", {
    timeout: 90_000,
  }, async () => {
    const stream = `cli-${suffix}`;
    const first = await cli([
      "append",
      stream,
      "--type",
      "OrderPlaced",
      "--data",
      '{"total":42}',
      "--expected-version",
      "no_stream",
    ]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(
      new RegExp(`^appended 1 event\\(s\\) to ${stream}: version 1, position \\d+\\n$`),
    );

    const piped = await cli(["append", stream, "-", "--json"], {
      stdin: '{"type":"OrderPaid","data":{"amount":42}}\n{"type":"OrderShipped"}\n',
    });
    expect(piped.code).toBe(0);
    expect(JSON.parse(piped.stdout)).toMatchObject({
      streamId: stream,
      version: 3,
      events: [{ version: 2 }, { version: 3 }],
    });

    const conflict = await cli(["append", stream, '{"type":"Late"}', "--expected-version", "1"]);
    expect(conflict.code).toBe(4);
    expect(conflict.stderr).toContain(
      `error WRONG_EXPECTED_VERSION (409): Stream '${stream}' is at version 3, expected 1.`,
    );
    const conflictJson = await cli([
      "append",
      stream,
      '{"type":"Late"}',
      "--expected-version",
      "1",
      "--json",
    ]);
    expect(conflictJson.code).toBe(4);
    expect(JSON.parse(conflictJson.stderr).error).toMatchObject({
      code: "WRONG_EXPECTED_VERSION",
      status: 409,
      actualVersion: 3,
    });

    const read = await cli(["read", stream]);
    expect(read.code).toBe(0);
    const lines = read.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^\\s*\\d+  ${stream}@1  OrderPlaced  \\{"total":42\\}$`));
    expect(read.stderr).toMatch(/3 event\(s\) in \d+ ms/);

    const ndjson = await cli(["read", stream, "--json", "--limit", "2"]);
    const events = ndjson.stdout
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(events.map((e) => e.type)).toEqual(["OrderPlaced", "OrderPaid"]);
    expect(events[0]).toMatchObject({ specversion: "1.0", subject: stream, streamversion: 1 });

    const all = await cli(["read", "--category", "cli", "--type", "OrderShipped", "--json"]);
    expect(
      all.stdout
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line).subject),
    ).toContain(stream);

    const missing = await cli(["read", `nothing-${suffix}`]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain("STREAM_NOT_FOUND");
  });
});

describe("colors and progress", () => {
  it("colors output with FORCE_COLOR even through a pipe, and not with NO_COLOR", async () => {
    const stream = `color-${suffix}`;
    await h.api.request("POST", `/streams/${stream}/events`, { body: { type: "Painted", data: 1 } });
    const colored = await cli(["read", stream], { env: { NO_COLOR: undefined, FORCE_COLOR: "1" } });
    expect(colored.code).toBe(0);
    // The stream and version in cyan, the type in bold.
    expect(colored.stdout).toContain(`\x1b[36m${stream}@1\x1b[39m  \x1b[1mPainted\x1b[22m`);
    const plain = await cli(["read", stream], { env: { FORCE_COLOR: "1", NO_COLOR: "1" } });
    expect(plain.stdout).not.toContain("\x1b[");
  });

  // util-linux `script` gives the CLI a terminal, as a user's shell would: the bar is drawn only there.
  it.runIf(process.platform === "linux")(
    "draws a progress bar with count and rate on a terminal while reading many events",
    { timeout: 60_000 },
    async () => {
      const stream = `bar-${suffix}`;
      const body = Array.from({ length: 1000 }, (_, i) => ({ type: "Many", data: { i } }));
      for (let i = 0; i < 3; i++) await h.api.request("POST", `/streams/${stream}/events`, { body });
      const command = [process.execPath, binary, "read", stream].map((a) => `'${a}'`).join(" ");
      const terminal = spawn("script", ["-qefc", command, "/dev/null"], {
        env: { PATH: process.env.PATH, HOME: home, TERM: "xterm", FORCE_COLOR: "1", ...env },
      });
      let output = "";
      terminal.stdout.on("data", (chunk) => {
        output += chunk;
      });
      const code = await new Promise((resolve) => terminal.on("close", resolve));
      expect(code).toBe(0);
      expect(output).toMatch(/reading \[[█░]+\] \d+\/\d+ \d+% \| \d+\/s/);
      expect(output).toMatch(/3000 event\(s\) in \d+ ms \([\d.]+k?\/s\)/);
    },
  );
});

describe("output through a pipe", () => {
  it("writes every line to a slow reader before it exits 0", { timeout: 60_000 }, async () => {
    // ~360 KB of NDJSON: far more than a pipe buffers (64 KB), so most of it waits in the process until
    // the reader catches up; exiting before it is written would lose it and still report success.
    const stream = `pipe-${suffix}`;
    const padding = "x".repeat(1400);
    await h.api.request("POST", `/streams/${stream}/events`, {
      body: Array.from({ length: 200 }, (_, i) => ({ type: "Big", data: { i, padding } })),
    });
    const read = await cli(["read", stream, "--json"], { readAfterMs: 5000 });
    expect(read.code).toBe(0);
    const lines = read.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(200);
    expect(lines.map((line) => JSON.parse(line).data.i)).toEqual([...Array(200).keys()]);
  });

  it("ends quietly when the reader goes away (`| head -1`)", { timeout: 60_000 }, async () => {
    // Two pages: the second is written after the reader is gone.
    const stream = `gone-${suffix}`;
    const body = Array.from({ length: 750 }, (_, i) => ({ type: "Gone", data: { i } }));
    for (let i = 0; i < 2; i++) await h.api.request("POST", `/streams/${stream}/events`, { body });
    const read = cli(["read", stream, "--json"]);
    // Close the read end after the first chunk: every later write fails with EPIPE.
    read.child.stdout.once("data", () => read.child.stdout.destroy());
    const result = await read;
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
  });
});

describe("tail", () => {
  it("prints history from --from, then live events, and exits after --count", async () => {
    const stream = `tail-${suffix}`;
    const first = await h.api.request("POST", `/streams/${stream}/events`, { body: { type: "Before" } });
    const from = String(first.body.events[0].position);
    const tail = cli(["tail", stream, "--from", from, "--count", "3", "--json"]);
    // Live events once the history arrived (the subscription is in place by then).
    const deadline = Date.now() + 15_000;
    while (!tail.output().includes("Before") && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    await h.api.request("POST", `/streams/${stream}/events`, {
      body: [{ type: "Live1" }, { type: "Live2" }],
    });
    const result = await tail;
    expect(result.code).toBe(0);
    const types = result.stdout
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line).type);
    expect(types).toEqual(["Before", "Live1", "Live2"]);
  }, 30_000);

  it("exits 5 when the token may not read the topic", { timeout: 30_000 }, async () => {
    const token = await h.token("realtime:subscribe events:read", ["orders-*"]);
    const refused = await cli(["tail", "stream:billing-1"], { env: { EVENTBUS_TOKEN: token } });
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain("FORBIDDEN");
  });
});

describe("subscriptions", () => {
  it("creates, lists, gets, replays with progress to lag 0, redrives and deletes", async () => {
    const name = `cli-sub-${suffix}`;
    await h.api.request("POST", `/streams/clisub-${suffix}/events`, { body: [{ type: "S" }, { type: "S" }] });
    const created = await cli([
      "subscriptions",
      "create",
      name,
      "--filter",
      '{"type":["S"]}',
      "--start-from",
      "origin",
    ]);
    expect(created.code).toBe(0);
    expect(created.stdout).toContain(`created subscription ${name}`);
    const again = await cli(["subs", "create", name, "--filter", '{"type":["S"]}', "--start-from", "origin"]);
    expect(again.stdout).toContain("already exists with this definition");
    const different = await cli(["subs", "create", name, "--filter", '{"type":["T"]}']);
    expect(different.code).toBe(4);
    expect(different.stderr).toContain("SUBSCRIPTION_CONFLICT");

    const list = await cli(["subscriptions", "list"]);
    expect(list.stdout).toMatch(/^NAME\s+STATE\s+ORDERING\s+CHECKPOINT\s+HEAD\s+LAG\s+QUEUE\s+DLQ\s+OWNER/);
    expect(list.stdout).toMatch(new RegExp(`^${name}\\s+(active|behind)\\s+none\\s`, "m"));
    const listed = JSON.parse((await cli(["subscriptions", "list", "--json"])).stdout);
    expect(listed.subscriptions.map((s: { name: string }) => s.name)).toContain(name);

    const get = JSON.parse((await cli(["subscriptions", "get", name, "--json"])).stdout);
    expect(get).toMatchObject({ name, filter: { type: ["S"] } });

    const replay = await cli(["subscriptions", "replay", name, "--from", "origin", "--timeout", "20"]);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(
      new RegExp(
        `^replayed ${name}: \\d+ position\\(s\\) forwarded in [\\d.]+ s \\([\\d.]+k?/s\\), checkpoint \\d+, lag 0`,
      ),
    );
    const replayJson = JSON.parse((await cli(["subs", "replay", name, "--from", "origin", "--json"])).stdout);
    expect(replayJson).toMatchObject({ name, lag: 0 });

    const redrive = await cli(["subscriptions", "redrive", name]);
    expect(redrive.code).toBe(0);
    expect(redrive.stdout).toMatch(new RegExp(`^redrove ${name}: 0 message\\(s\\) moved back to the queue`));

    expect((await cli(["subscriptions", "delete", name])).stdout).toContain(`deleted subscription ${name}`);
    const gone = await cli(["subscriptions", "get", name]);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toContain("SUBSCRIPTION_NOT_FOUND");
  }, 60_000);
});

describe("captures", () => {
  it("lists captures and exits 3 for an unknown one", async () => {
    const list = await cli(["captures", "list", "--json"]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toMatchObject({ captures: expect.any(Array) });
    const missing = await cli(["captures", "get", `nope_${suffix}`]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain("CAPTURE_NOT_FOUND (404)");
  });
});

describe("token, doctor and configuration", () => {
  it("mints a local token whose scopes the server enforces (exit 5 when refused)", {
    timeout: 30_000,
  }, async () => {
    const minted = await cli(["token", "--scope", "events:read", "--expires", "10m"]);
    expect(minted.code).toBe(0);
    const token = minted.stdout.trim();
    expect(token.split(".")).toHaveLength(3);
    const refused = await cli(["append", `tok-${suffix}`, "--type", "A"], { env: { EVENTBUS_TOKEN: token } });
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain("FORBIDDEN (403)");
    const bad = await cli(["token", "--scope", "everything"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown scope(s): everything");
    expect((await cli(["token", "--expires", "1y"])).code).toBe(2);
  });

  it("doctor prints one line per check and exits 0 when all pass, 1 when the bus is unreachable", async () => {
    const ok = await cli(["doctor"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^✓ config\s+url http/m);
    expect(ok.stdout).toMatch(/^✓ http\s+GET \/health answered 200/m);
    expect(ok.stdout).toContain(`✓ version   server ${packageVersion}, this CLI ${packageVersion}\n`);
    expect(ok.stdout).toMatch(/^✓ token\s+expires in/m);
    expect(ok.stdout).toMatch(/^✓ auth\s+the token may read events/m);
    expect(ok.stdout).toMatch(/^✓ websocket\s+ws:\/\/.* connected, pong in \d+ ms/m);
    const report = JSON.parse((await cli(["doctor", "--json"])).stdout);
    expect(report.ok).toBe(true);

    const readOnly = await cli(["doctor"], { env: { EVENTBUS_TOKEN: await h.token("events:read") } });
    expect(readOnly.code).toBe(1);
    expect(readOnly.stdout).toMatch(/^✓ auth\s+the token may read events/m);
    expect(readOnly.stdout).toMatch(
      /^✗ websocket\s+ws:\/\/.*: handshake refused with HTTP 403: the token has neither realtime:subscribe nor realtime:publish$/m,
    );

    const down = await cli(["doctor", "--timeout", "1"], {
      env: { EVENTBUS_URL: "http://127.0.0.1:9", EVENTBUS_WS_URL: "ws://127.0.0.1:9" },
    });
    expect(down.code).toBe(1);
    expect(down.stdout).toMatch(/^✗ http\s+cannot reach http:\/\/127.0.0.1:9/m);
    expect(down.stdout).toMatch(/^✗ websocket/m);
  }, 30_000);

  it("prints its version, the package's, with --version", async () => {
    const version = await cli(["--version"]);
    expect(version).toMatchObject({ code: 0, stdout: `${packageVersion}\n` });
  });

  it("doctor warns when the server's major or minor version differs from the CLI's, not its patch", () => {
    expect(versionCheck("0.1.7", "0.1.0")).toMatchObject({
      ok: true,
      detail: "server 0.1.7, this CLI 0.1.0",
    });
    expect(versionCheck("0.2.0", "0.1.0")).toMatchObject({
      ok: false,
      warn: true,
      detail: expect.stringMatching(/^server 0\.2\.0, this CLI 0\.1\.0: a different minor version; install/),
    });
    expect(versionCheck("1.0.0", "0.1.0")).toMatchObject({
      warn: true,
      detail: expect.stringContaining("a different major version"),
    });
    expect(versionCheck(undefined, "0.1.0")).toMatchObject({ ok: false, warn: true });
  });

  it("labels a --json failure by what failed, not USAGE for everything", async () => {
    // No local secret here: a failure (exit 1) that is not a usage error.
    const noSecret = await cli(["token", "--json"], { env: { EVENTBUS_JWT_SECRET: undefined }, cwd: home });
    expect(noSecret.code).toBe(1);
    expect(JSON.parse(noSecret.stderr).error).toMatchObject({
      code: "FAILED",
      detail: expect.stringContaining("no local secret"),
    });
    const usage = await cli(["read", "x", "--limit", "0", "--json"]);
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stderr).error.code).toBe("USAGE");
  });

  it("takes a token with surrounding whitespace, as read from a file or a heredoc", async () => {
    // HTTP headers drop it anyway; the WebSocket URL's ?token= would carry it.
    const padded = await cli(["doctor"], { env: { EVENTBUS_TOKEN: `  ${env.EVENTBUS_TOKEN}\n` } });
    expect(padded.stdout).toMatch(/^✓ websocket/m);
    expect(padded.code).toBe(0);
  });

  it("takes flags over environment over the profile file", async () => {
    const stream = `conf-${suffix}`;
    await h.api.request("POST", `/streams/${stream}/events`, { body: { type: "A" } });
    const file = join(home, "profiles.json");
    writeFileSync(
      file,
      JSON.stringify({
        url: "http://127.0.0.1:9",
        profiles: { local: { url: h.api.baseUrl, token: env.EVENTBUS_TOKEN } },
      }),
    );
    const noEnv = { EVENTBUS_URL: undefined, EVENTBUS_TOKEN: undefined, EVENTBUS_CONFIG: file };
    // The named profile's url and token.
    expect((await cli(["read", stream, "--profile", "local"], { env: noEnv })).code).toBe(0);
    // The environment beats the file.
    const envWins = await cli(["read", stream, "--profile", "local"], {
      env: { ...noEnv, EVENTBUS_URL: "http://127.0.0.1:9" },
    });
    expect(envWins.code).toBe(1);
    expect(envWins.stderr).toContain("NETWORK");
    // A flag beats the environment.
    const flagWins = await cli(["read", stream, "--profile", "local", "--url", h.api.baseUrl], {
      env: { ...noEnv, EVENTBUS_URL: "http://127.0.0.1:9" },
    });
    expect(flagWins.code).toBe(0);
    const missingProfile = await cli(["read", stream, "--profile", "nope"], { env: noEnv });
    expect(missingProfile.code).toBe(2);
    expect(missingProfile.stderr).toContain("has no profile 'nope'");
  }, 30_000);
});

// Last: its 11,000 events would make every replay from origin above forward them too.
describe("tail far back", () => {
  it("tails from more than 10,000 events back: every event once, in order", async () => {
    const stream = `deep-${suffix}`;
    const appended: string[] = [];
    for (let batch = 0; batch < 11; batch++) {
      const body = Array.from({ length: 1000 }, (_, i) => ({ type: "Bulk", data: { i: batch * 1000 + i } }));
      const response = await h.api.request("POST", `/streams/${stream}/events`, { body });
      expect(response.status).toBe(201);
      appended.push(...response.body.events.map((e: { position: number | string }) => String(e.position)));
    }
    const tail = await cli(["tail", stream, "--from", appended[0]!, "--count", "11000", "--json"]);
    expect(tail.stderr).toBe("");
    expect(tail.code).toBe(0);
    const positions = tail.stdout
      .trimEnd()
      .split("\n")
      .map((line) => String(JSON.parse(line).position));
    expect(positions).toEqual(appended);
  }, 120_000);
});
