import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { resourcesOf, type Synthesised, synthesise } from "./synth.ts";

// Template-only synth (no Lambda bundling); the listener's build context is staged at construct time.
let synth: Synthesised;
let context: string;
let imageHash: string;
let db: TestDatabase;
let listener: ChildProcess | undefined;

beforeAll(async () => {
  synth = synthesise({ bundle: false, bus: { operators: { entry: "examples/orderTotals/operators.ts" } } });
  const manifest = JSON.parse(readFileSync(join(synth.outdir, "EventBusTest.assets.json"), "utf8"));
  const images = Object.entries(manifest.dockerImages ?? {}).map(([hash, image]: [string, any]) => ({
    hash,
    dir: join(synth.outdir, image.source.directory),
  }));
  const staged = images.find(({ dir }) => existsSync(join(dir, "operators.mjs")))!;
  context = staged.dir;
  imageHash = staged.hash;
  db = await createTestDatabase();
}, 120_000);

afterAll(async () => {
  listener?.kill("SIGKILL");
  await db?.close();
});

describe("operators declared with the construct", () => {
  it("are bundled into the listener's image, which points EVENTBUS_OPERATORS_MODULE at them", () => {
    expect(context).toBeDefined();
    expect(existsSync(join(context, "listener.mjs"))).toBe(true);
    const dockerfile = readFileSync(join(context, "Dockerfile"), "utf8");
    expect(dockerfile).toMatch(/EVENTBUS_OPERATORS_MODULE=operators\.mjs/);
    expect(dockerfile).toMatch(/CMD \["node", "listener\.mjs"\]/);
    // The task runs that image (its tag is the asset's hash).
    const task = resourcesOf(synth.template, "AWS::ECS::TaskDefinition")[0]![1];
    expect(JSON.stringify(task.Properties.ContainerDefinitions[0].Image)).toContain(imageHash);
  });

  it("run in the image's listener as it would start in the container (node listener.mjs in /app)", async () => {
    listener = spawn(process.execPath, ["listener.mjs"], {
      cwd: context,
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: db.url,
        EVENTBUS_OPERATORS_MODULE: "operators.mjs",
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test",
      },
      stdio: "ignore",
    });
    // The listener registers each operator it runs.
    await expect
      .poll(
        async () =>
          (await db.sql<{ name: string }[]>`select name from eventbus.operators`).map((r) => r.name),
        {
          timeout: 30_000,
          interval: 200,
        },
      )
      .toEqual(["order_totals"]);
  }, 60_000);
});
