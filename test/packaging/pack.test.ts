import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadLocalWsRoutes } from "../../functions/ws/localRoutes.ts";
import { repoRoot } from "../../infra/paths.ts";
import { type Listener, startListener } from "../../lib/listener/startListener.ts";
import { type RunningWsGateway, startWsGateway } from "../../lib/local/wsGateway.ts";
import { createRealtimeTable } from "../../lib/realtime/table.ts";
import { createSqsClient, uniquePrefix } from "../listener/support.ts";
import { startTestHttpApi, type TestHttpApi } from "../support/httpApi.ts";

const run = promisify(execFile);

/**
 * What a new user does: `npm pack` this repository, install the tarball (plus the CDK peers) into a fresh
 * project, and use every entry point from there: a CDK app synthesises with `serverless-eventbus/cdk`, a script appends
 * and reads with `serverless-eventbus/client`, the `eventbus` binary runs, and a consumer made with `serverless-eventbus/consumer`
 * runs under `serverless-eventbus/testing` against a bus this test starts. Nothing is imported from the repository.
 */
const work = mkdtempSync(join(tmpdir(), "eventbus-pack-"));
const project = join(work, "project");
const cdkVersion = JSON.parse(readFileSync(join(repoRoot, "node_modules/aws-cdk-lib/package.json"), "utf8"));
const constructsVersion = JSON.parse(
  readFileSync(join(repoRoot, "node_modules/constructs/package.json"), "utf8"),
).version;
// A consumer's `entry` is bundled at synth by CDK's NodejsFunction with the project's own esbuild.
const esbuildVersion = JSON.parse(
  readFileSync(join(repoRoot, "node_modules/esbuild/package.json"), "utf8"),
).version;

let tarball: { filename: string; size: number; files: Array<{ path: string }> };
let installLog: string;
let api: TestHttpApi;
let listener: Listener;
let gateway: RunningWsGateway;
let dynamo: DynamoDBClient;
let env: Record<string, string>;
const sqs = createSqsClient();

/** Runs a command in the project; resolves with its output, rejects with its output on a non-zero exit. */
async function inProject(file: string, args: string[], extraEnv: Record<string, string> = {}) {
  try {
    return await run(file, args, {
      cwd: project,
      env: { ...process.env, ...env, ...extraEnv },
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${file} ${args.join(" ")} failed:\n${stdout ?? ""}\n${stderr ?? ""}`, { cause: error });
  }
}

const script = (name: string, source: string) => writeFileSync(join(project, name), source);

beforeAll(async () => {
  // `npm pack` runs `prepack` (npm run build): the tarball is what `npm publish` would upload.
  const packed = await run("npm", ["pack", "--json", "--pack-destination", work], {
    cwd: repoRoot,
    maxBuffer: 64 * 1024 * 1024,
  }).finally(() =>
    // A pack that failed between prepack and postpack must not leave the repository without its script.
    run("node", ["bin/packManifest.mjs", "restore"], { cwd: repoRoot }),
  );
  [tarball] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("[")));

  mkdirSync(project);
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({
      name: "eventbus-pack-check",
      private: true,
      type: "module",
      dependencies: {
        "serverless-eventbus": `file:${join(work, tarball.filename)}`,
        "aws-cdk-lib": cdkVersion.version,
        constructs: constructsVersion,
        esbuild: esbuildVersion,
      },
    }),
  );
  // The npm cache of this machine makes this mostly offline; the registry is asked only for what it lacks.
  const install = await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], {
    cwd: project,
    maxBuffer: 16 * 1024 * 1024,
  });
  installLog = `${install.stdout}\n${install.stderr}`;

  const prefix = uniquePrefix("pack");
  // The WebSocket API as `npm run dev` runs it, for `eventbus tail` (history only: no fan-out is needed).
  dynamo = new DynamoDBClient({
    endpoint: inject("dynamoEndpoint"),
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  const realtimeTable = `${prefix}realtime`;
  await createRealtimeTable(dynamo, realtimeTable);
  gateway = await startWsGateway({ routes: await loadLocalWsRoutes(), port: 0 });
  api = await startTestHttpApi({
    AWS_ENDPOINT_URL_SQS: inject("sqsEndpoint"),
    AWS_ENDPOINT_URL_DYNAMODB: inject("dynamoEndpoint"),
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_REGION: "us-east-1",
    EVENTBUS_QUEUE_PREFIX: prefix,
    EVENTBUS_REALTIME_TABLE: realtimeTable,
    EVENTBUS_WS_MANAGEMENT_ENDPOINT: gateway.managementEndpoint,
  });
  listener = await startListener({
    sql: api.db.sql,
    sqs,
    source: "urn:test",
    listenerId: "pack-listener",
    claimIntervalMs: 200,
  });
  env = {
    EVENTBUS_URL: api.baseUrl,
    EVENTBUS_WS_URL: gateway.url,
    EVENTBUS_TOKEN: await api.token("admin"),
    SQS_ENDPOINT: inject("sqsEndpoint"),
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_REGION: "us-east-1",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
}, 600_000);

afterAll(async () => {
  await listener?.stop();
  await gateway?.stop();
  await api?.close();
  dynamo?.destroy();
  sqs.destroy();
  rmSync(work, { recursive: true, force: true });
}, 120_000);

describe("the packed package", () => {
  it("holds the compiled entry points with their types and the pre-built deployables, and no sources", () => {
    const files = tarball.files.map((f) => f.path);
    for (const entry of ["lib/client/index", "lib/consumer/index", "lib/testing/index", "infra/index"]) {
      expect(files).toContain(`dist/${entry}.js`);
      expect(files).toContain(`dist/${entry}.d.ts`);
    }
    expect(files).toContain("dist/lib/cli/main.js");
    expect(files).toContain("dist/lambda/entries.json");
    expect(files).toContain("dist/lambda/functions/http/appendEvents.mjs");
    expect(files).toEqual(expect.arrayContaining(["dist/listener/Dockerfile", "dist/listener/listener.mjs"]));
    expect(files.filter((f) => !f.startsWith("dist/")).sort()).toEqual(["README.md", "package.json"]);
    expect(files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
    // Compressed; the Lambda bundles with their source maps are most of it.
    expect(tarball.size).toBeLessThan(15 * 1024 * 1024);
  });

  it("installs on this Node without engine or install-script warnings", () => {
    expect(installLog).not.toMatch(/EBADENGINE/);
    // The repository's own `prepare` (patch-package) stays out of the published manifest: npm 11 warned
    // about it on every install. The repository keeps it (`npm ci` applies patches/).
    expect(installLog).not.toMatch(/serverless-eventbus@.*prepare/);
    const manifest = JSON.parse(
      readFileSync(join(project, "node_modules/serverless-eventbus/package.json"), "utf8"),
    );
    expect(manifest.scripts?.prepare).toBeUndefined();
    expect(JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).scripts.prepare).toBe(
      "patch-package",
    );
    expect(manifest.private).toBeUndefined();
    expect(manifest.peerDependencies).toMatchObject({
      "aws-cdk-lib": expect.any(String),
      constructs: expect.any(String),
    });
  });

  it("type-checks a TypeScript program against every entry point", async () => {
    script(
      "check.ts",
      `import { App, Stack } from "aws-cdk-lib";
import { EventBus, EventBusMonitoring, type EventBusProps } from "serverless-eventbus/cdk";
import { createClient, type CloudEvent } from "serverless-eventbus/client";
import { createConsumer } from "serverless-eventbus/consumer";
import { expectEvents, runConsumer } from "serverless-eventbus/testing";
const props: EventBusProps = { subscriptions: { billing: { definition: { ordering: "stream" } } } };
const stack = new Stack(new App(), "S");
new EventBusMonitoring(stack, "Monitoring", { bus: new EventBus(stack, "Bus", props) });
const client = createClient({ url: "http://localhost:4000" });
export const handler = createConsumer(async (event: CloudEvent) => { await client.append("seen", { type: "Seen", data: event.id }); });
export const both = [expectEvents, runConsumer];
`,
    );
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ["check.ts"],
      }),
    );
    await inProject(process.execPath, [join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", "."]);
  }, 300_000);

  it("synthesises a CDK app with EventBus from serverless-eventbus/cdk, deploying the package's pre-built code", async () => {
    // The user's consumer, bundled at synth from the user's project (README: Install).
    script(
      "billing.mjs",
      `import { createConsumer } from "serverless-eventbus/consumer";
export const handler = createConsumer(async (event) => {
  if (event.data?.fail) throw new Error("declined");
});
`,
    );
    script(
      "app.mjs",
      `import { App, Stack } from "aws-cdk-lib";
import { EventBus } from "serverless-eventbus/cdk";
const app = new App({ outdir: "cdk.out" });
const stack = new Stack(app, "Orders");
new EventBus(stack, "Bus", {
  subscriptions: {
    billing: { definition: { filter: { type: ["OrderPlaced"] }, ordering: "stream" }, consumer: { entry: "billing.mjs" } },
    audit: {},
  },
  captures: { orders: { table: "public.orders", replicaIdentityFull: true } },
});
app.synth();
`,
    );
    await inProject(process.execPath, ["app.mjs"]);
    const out = join(project, "cdk.out");
    const template = JSON.parse(readFileSync(join(out, "Orders.template.json"), "utf8"));
    const resources = Object.values(template.Resources) as any[];
    const functions = resources.filter(
      (r) =>
        r.Type === "AWS::Lambda::Function" &&
        r.Properties.Runtime === "nodejs22.x" &&
        r.Properties.Handler.startsWith("functions/"),
    );
    expect(functions.map((f) => f.Properties.Handler)).toContain("functions/http/appendEvents.handler");
    expect(resources.filter((r) => r.Type === "Custom::EventBusSubscription")).toHaveLength(2);
    const [capture, ...moreCaptures] = resources.filter((r) => r.Type === "Custom::EventBusCapture");
    expect(moreCaptures).toEqual([]);
    expect(capture.Properties).toMatchObject({ Kind: "capture", Name: "orders" });
    expect(JSON.parse(capture.Properties.Definition)).toEqual({
      table: "public.orders",
      replicaIdentityFull: true,
    });

    // The consumer: its own function with the SQS event source reporting partial batch failures, and
    // its bundled code handles a batch as it would on Lambda.
    const consumers = Object.entries(template.Resources as Record<string, any>).filter(
      ([, r]) =>
        r.Type === "AWS::Lambda::Function" && r.Properties.Description === "Consumer of subscription billing",
    );
    expect(consumers).toHaveLength(1);
    const [consumerId, consumer] = consumers[0]!;
    expect(consumer.Properties.Handler).toBe("index.handler");
    const mappings = resources.filter(
      (r) => r.Type === "AWS::Lambda::EventSourceMapping" && r.Properties.FunctionName?.Ref === consumerId,
    );
    expect(mappings.map((m) => m.Properties.FunctionResponseTypes)).toEqual([["ReportBatchItemFailures"]]);
    const assetsForConsumer = JSON.parse(readFileSync(join(out, "Orders.assets.json"), "utf8"));
    const consumerDir = join(
      out,
      assetsForConsumer.files[consumer.Properties.Code.S3Key.replace(/\.zip$/, "")].source.path,
    );
    const bundled = await import(pathToFileURL(join(consumerDir, "index.mjs")).href);
    const record = (messageId: string, data: unknown) => ({
      messageId,
      body: JSON.stringify({ specversion: "1.0", id: messageId, type: "OrderPlaced", data }),
      attributes: { ApproximateReceiveCount: "1" },
      messageAttributes: {},
      eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:billing",
    });
    expect(
      await bundled.handler({ Records: [record("m1", { total: 1 }), record("m2", { fail: true })] }, {}),
    ).toEqual({ batchItemFailures: [{ itemIdentifier: "m2" }] });

    const assets = JSON.parse(readFileSync(join(out, "Orders.assets.json"), "utf8"));
    // One asset for every bus handler, with each function's file in it.
    const code = functions.map((f) => f.Properties.Code.S3Key);
    expect(new Set(code).size).toBe(1);
    const lambdaDir = join(out, assets.files[code[0].replace(/\.zip$/, "")].source.path);
    for (const fn of functions) {
      expect(existsSync(join(lambdaDir, `${fn.Properties.Handler.replace(/\.handler$/, "")}.mjs`))).toBe(
        true,
      );
    }
    // The deployed code runs: the catch-all route answers a problem document without any configuration.
    const { handler } = await import(pathToFileURL(join(lambdaDir, "functions/http/notFound.mjs")).href);
    const response = await handler(
      { requestContext: { http: { method: "GET" } }, rawPath: "/nope", headers: {} },
      {},
    );
    expect(response.statusCode).toBe(404);
    expect(JSON.parse(response.body).code).toBe("ROUTE_NOT_FOUND");

    // The listener image builds from the installed package: a Dockerfile beside the bundled listener.
    const [image] = Object.values(assets.dockerImages) as any[];
    const context = join(out, image.source.directory);
    expect(readdirSync(context).sort()).toEqual(
      ["Dockerfile", "listener.mjs", "listener.mjs.map", "migrate.mjs", "migrate.mjs.map"].sort(),
    );
    expect(image.source.platform).toBe("linux/arm64");
    // What the image runs works as shipped: the migration runner against this test's database (already
    // migrated, so it applies nothing and exits 0).
    const migrated = await inProject(process.execPath, [join(context, "migrate.mjs")], {
      DATABASE_URL: api.db.url,
    });
    expect(JSON.parse(migrated.stdout)).toEqual({ message: "migrations applied", applied: "none pending" });
  }, 300_000);

  it("appends and reads with serverless-eventbus/client", async () => {
    script(
      "client.mjs",
      `import { createClient } from "serverless-eventbus/client";
const bus = createClient({ url: process.env.EVENTBUS_URL, token: process.env.EVENTBUS_TOKEN });
const appended = await bus.append("orders-1", [{ type: "OrderPlaced", data: { total: 42 } }, { type: "OrderPaid" }]);
const page = await bus.read("orders-1");
console.log(JSON.stringify({ version: appended.version, types: page.events.map((e) => e.type), data: page.events[0].data }));
`,
    );
    const { stdout } = await inProject(process.execPath, ["client.mjs"]);
    expect(JSON.parse(stdout)).toEqual({
      version: 2,
      types: ["OrderPlaced", "OrderPaid"],
      data: { total: 42 },
    });
  });

  it("bundles serverless-eventbus/client for browsers with no Node built-in", async () => {
    // esbuild fails on any `node:` or Node built-in import when bundling for the browser.
    const { metafile } = await build({
      entryPoints: [join(project, "node_modules/serverless-eventbus/dist/lib/client/index.js")],
      absWorkingDir: project,
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    const packages = Object.keys(metafile.inputs).filter((input) => input.includes("node_modules/"));
    // Node 20's WebSocket fallback resolves to the `ws` package's browser stub, never used in a browser.
    expect(
      packages.filter(
        (p) => !p.includes("node_modules/serverless-eventbus/") && p !== "node_modules/ws/browser.js",
      ),
    ).toEqual([]);
  });

  it("tails history with --from from the installed binary, over the WebSocket API", async () => {
    const bin = join(project, "node_modules/.bin/eventbus");
    const appended = await inProject(bin, [
      "append",
      "tail-1",
      '[{"type":"A"},{"type":"B"},{"type":"C"}]',
      "--json",
    ]);
    const [, second] = JSON.parse(appended.stdout).events;
    const tail = await inProject(bin, [
      "tail",
      "tail-1",
      "--from",
      String(second.position),
      "--count",
      "2",
      "--json",
    ]);
    expect(
      tail.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line).type),
    ).toEqual(["B", "C"]);
  }, 60_000);

  it("runs the eventbus binary: --help, --version, and a command against the bus", async () => {
    const bin = join(project, "node_modules/.bin/eventbus");
    const help = await inProject(bin, ["--help"]);
    expect(help.stdout).toMatch(/append/);
    expect(help.stdout).toMatch(/subscriptions/);
    const version = await inProject(bin, ["--version"]);
    expect(version.stdout).toBe(
      `${JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).version}\n`,
    );
    await inProject(bin, ["append", "cli-1", "--type", "CliAppended", "--data", '{"n":1}', "--json"]);
    const read = await inProject(bin, ["read", "cli-1", "--json"]);
    const events = read.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(events.map((e) => [e.type, e.data])).toEqual([["CliAppended", { n: 1 }]]);
  }, 60_000);

  it("runs a consumer from serverless-eventbus/consumer under serverless-eventbus/testing", async () => {
    script(
      "consumer.mjs",
      `import { createClient } from "serverless-eventbus/client";
import { createConsumer } from "serverless-eventbus/consumer";
import { expectEvents, runConsumer } from "serverless-eventbus/testing";
const bus = createClient({ url: process.env.EVENTBUS_URL, token: process.env.EVENTBUS_TOKEN });
const endpoint = process.env.SQS_ENDPOINT;
await bus.subscriptions.create("shipping", { filter: { type: ["OrderPlaced"] }, startFrom: "current" });
await bus.subscriptions.create("audit", { startFrom: "current" });
const handled = [];
const consumer = await runConsumer(createConsumer(async (event) => { handled.push(event.data.total); }), "shipping", { client: bus, endpoint });
try {
  await bus.append("orders-2", [{ type: "OrderPlaced", data: { total: 7 } }, { type: "OrderPaid", data: { total: 7 } }]);
  const [placed, paid] = await expectEvents("audit", [{ type: "OrderPlaced" }, { type: "OrderPaid" }], { client: bus, endpoint, timeout: 15000 });
  const deadline = Date.now() + 15000;
  while (handled.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  console.log(JSON.stringify({ handled, audited: [placed.type, paid.type] }));
} finally {
  await consumer.stop();
}
`,
    );
    const { stdout } = await inProject(process.execPath, ["consumer.mjs"]);
    expect(JSON.parse(stdout)).toEqual({ handled: [7], audited: ["OrderPlaced", "OrderPaid"] });
  }, 60_000);
});
