import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { listenerBuildContextExcludes } from "../../infra/eventBus.ts";
import { repoRoot } from "../../infra/paths.ts";
import { parseConfig } from "../../lib/config.ts";

// Docker and LocalStack are not available where the tests run; what can be checked without them is
// checked here: the compose file's shape, the scripts' syntax and behaviour, the Dockerfile's inputs.
const localstackDir = join(repoRoot, "localstack");
const compose = parse(readFileSync(join(localstackDir, "docker-compose.yml"), "utf8"), { merge: true });
const dockerfile = readFileSync(join(repoRoot, "infra/listener/Dockerfile"), "utf8");
const shellScripts = () => {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name.endsWith(".sh")) found.push(join(dir, entry.name));
    }
  };
  walk(localstackDir);
  return found;
};

describe("localstack/docker-compose.yml", () => {
  it("runs LocalStack, Postgres, the migrations and the listener", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["listener", "localstack", "migrate", "postgres"]);
    expect(compose.services.localstack.volumes).toContain("./init/ready.d:/etc/localstack/init/ready.d:ro");
    expect(existsSync(join(localstackDir, "init/ready.d"))).toBe(true);
  });

  it("builds the listener from the Dockerfile the CDK stack deploys", () => {
    for (const name of ["listener", "migrate"]) {
      const build = compose.services[name].build;
      expect(join(localstackDir, build.context)).toBe(repoRoot);
      expect(existsSync(join(repoRoot, build.dockerfile))).toBe(true);
      expect(build.dockerfile).toBe("infra/listener/Dockerfile");
    }
    expect(compose.services.migrate.command).toEqual(["node", "migrate.mjs"]);
    expect(dockerfile).toMatch(/CMD \["node", "listener\.mjs"\]/);
  });

  it("gives the listener an environment the bus's config accepts, pointing at the compose services", () => {
    const env = compose.services.listener.environment as Record<string, string>;
    const config = parseConfig(env);
    expect(new URL(config.DATABASE_URL!).hostname).toBe("postgres");
    expect(config.AWS_ENDPOINT_URL).toBe("http://localhost.localstack.cloud:4566");
    // The queue the init script creates, under a hostname that resolves to LocalStack in the network.
    expect(config.EVENTBUS_REALTIME_QUEUE_URL).toMatch(
      new RegExp(`/000000000000/${config.EVENTBUS_QUEUE_PREFIX}realtime$`),
    );
    const aliases = compose.services.localstack.networks.default.aliases as string[];
    expect(aliases).toContain(new URL(config.EVENTBUS_REALTIME_QUEUE_URL!).hostname);
    expect(aliases).toContain(new URL(config.AWS_ENDPOINT_URL!).hostname);
    expect(compose.services.listener.depends_on).toEqual({
      localstack: { condition: "service_healthy" },
      migrate: { condition: "service_completed_successfully" },
    });
    expect(compose.services.listener.deploy.replicas).toBe(2);
  });
});

describe("localstack scripts", () => {
  it("are valid bash", () => {
    const scripts = shellScripts();
    expect(scripts.length).toBeGreaterThanOrEqual(2);
    for (const script of scripts) execFileSync("bash", ["-n", script]);
  });

  it("init script creates the realtime queue with its DLQ, the realtime table with TTL, and the token secret", () => {
    // A stand-in `awslocal` that records each call and answers like LocalStack would.
    const dir = mkdtempSync(join(tmpdir(), "eventbus-awslocal-"));
    const log = join(dir, "calls.jsonl");
    const fake = join(dir, "awslocal");
    writeFileSync(
      fake,
      `#!/usr/bin/env node
const args = process.argv.slice(2);
require("node:fs").appendFileSync(${JSON.stringify(log)}, JSON.stringify(args) + "\\n");
const call = args.slice(0, 2).join(" ");
if (call === "sqs create-queue") console.log("http://localhost:4566/000000000000/" + args[args.indexOf("--queue-name") + 1]);
else if (call === "sqs get-queue-attributes") console.log("arn:aws:sqs:us-east-1:000000000000:eventbus-realtime-dlq");
else if (call === "dynamodb describe-table" || call === "secretsmanager describe-secret") process.exit(255);
`,
    );
    chmodSync(fake, 0o755);
    execFileSync("bash", [join(localstackDir, "init/ready.d/10-eventbus.sh")], {
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, EVENTBUS_QUEUE_PREFIX: "eventbus-" },
    });
    const calls = readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as string[]);
    const option = (call: string[], name: string) => call[call.indexOf(name) + 1];

    const queues = calls.filter((c) => c[1] === "create-queue");
    expect(queues.map((c) => option(c, "--queue-name"))).toEqual([
      "eventbus-realtime-dlq",
      "eventbus-realtime",
    ]);
    const attributes = JSON.parse(option(queues[1]!, "--attributes")!);
    expect(JSON.parse(attributes.RedrivePolicy)).toEqual({
      deadLetterTargetArn: "arn:aws:sqs:us-east-1:000000000000:eventbus-realtime-dlq",
      maxReceiveCount: "5",
    });

    const table = calls.find((c) => c[1] === "create-table")!;
    expect(option(table, "--table-name")).toBe("eventbus-realtime");
    expect(table.join(" ")).toContain("AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE");
    const ttl = calls.find((c) => c[1] === "update-time-to-live")!;
    expect(option(ttl, "--time-to-live-specification")).toBe("Enabled=true,AttributeName=expiresAt");

    const secret = calls.find((c) => c[1] === "create-secret")!;
    expect(option(secret, "--name")).toBe("eventbus/jwt");
    // Long enough for the HS256 verifier (config requires at least 16 characters).
    expect(option(secret, "--secret-string")!.length).toBeGreaterThanOrEqual(32);
  });
});

describe("infra/listener/Dockerfile", () => {
  it("copies only files that exist and that the CDK build context keeps", () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(" "));
    expect(sources).toEqual([
      "package.json",
      "package-lock.json",
      "patches",
      "tsconfig.json",
      "lib",
      "functions",
    ]);
    for (const source of sources) {
      expect(existsSync(join(repoRoot, source)), source).toBe(true);
      expect(listenerBuildContextExcludes).toContain(`!${source}`);
    }
  });

  it("bundles entry points that exist", () => {
    const entries = [...dockerfile.matchAll(/functions\/[\w/]+\.ts/g)].map((m) => m[0]);
    expect(entries).toEqual(["functions/listener/main.ts", "functions/migrate/main.ts"]);
    for (const entry of entries) expect(existsSync(join(repoRoot, entry)), entry).toBe(true);
  });

  it("needs only production dependencies, the only ones the image installs (npm ci --omit=dev)", async () => {
    expect(dockerfile).toContain("npm ci --omit=dev");
    const { metafile } = await build({
      entryPoints: ["functions/listener/main.ts", "functions/migrate/main.ts"].map((e) => join(repoRoot, e)),
      absWorkingDir: repoRoot,
      bundle: true,
      write: false,
      metafile: true,
      platform: "node",
      format: "esm",
      mainFields: ["module", "main"],
      outdir: join(tmpdir(), "eventbus-listener-bundle"),
      logLevel: "silent",
    });
    const lock = JSON.parse(readFileSync(join(repoRoot, "package-lock.json"), "utf8")).packages;
    const packages = new Set(
      Object.keys(metafile.inputs).flatMap((input) => {
        const match = input.match(/^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//);
        return match ? [match[1]!] : [];
      }),
    );
    expect(packages.size).toBeGreaterThan(5);
    const devOnly = [...packages].filter((p) => !lock[p] || lock[p].dev === true);
    expect(devOnly).toEqual([]);
  });
});
