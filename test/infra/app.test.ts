import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ContextError, numberContext, subscriptionsFromContext } from "../../infra/context.ts";
import { repoRoot } from "../../infra/paths.ts";

// The CDK app as `cdk synth` runs it (cdk.json's command, context through CDK_CONTEXT_JSON), with bundling
// skipped so it stays quick; stack.test.ts covers the bundled synth.
function runApp(context: Record<string, unknown>) {
  const outdir = mkdtempSync(join(tmpdir(), "eventbus-app-"));
  const cdkJson = JSON.parse(readFileSync(join(repoRoot, "cdk.json"), "utf8"));
  const [command, ...args] = (cdkJson.app as string).split(" ");
  execFileSync(command!, args, {
    cwd: repoRoot,
    env: {
      ...process.env,
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJson.context, ...context, "aws:cdk:bundling-stacks": [] }),
    },
    stdio: "pipe",
  });
  const manifest = JSON.parse(readFileSync(join(outdir, "manifest.json"), "utf8"));
  return { outdir, manifest };
}

describe("the CDK app (cdk.json)", () => {
  it("synthesises the stack from context, with cdk-nag reporting nothing unexplained", () => {
    const { outdir, manifest } = runApp({
      stackName: "BusFromContext",
      alarmEmail: "ops@example.com",
      listenerDesiredCount: 3,
      corsAllowOrigins: "https://app.example.com, https://admin.example.com",
      subscriptions: {
        billing: {
          definition: { ordering: "stream", visibilityTimeout: 120 },
          consumer: { entry: "test/infra/fixtures/consumer.ts", timeout: 90 },
        },
      },
    });
    const metadata = Object.values(manifest.artifacts.BusFromContext.metadata ?? {}).flat() as Array<{
      type: string;
      data: string;
    }>;
    expect(metadata.filter((m) => m.type === "aws:cdk:error" || m.type === "aws:cdk:warning")).toEqual([]);

    const template = JSON.parse(readFileSync(join(outdir, "BusFromContext.template.json"), "utf8"));
    const resources = Object.values(template.Resources) as Array<{ Type: string; Properties: any }>;
    expect(resources.find((r) => r.Type === "AWS::ECS::Service")?.Properties.DesiredCount).toBe(3);
    expect(resources.find((r) => r.Type === "Custom::EventBusSubscription")?.Properties.Name).toBe("billing");
    const consumer = resources.find(
      (r) =>
        r.Type === "AWS::Lambda::Function" && r.Properties.Description === "Consumer of subscription billing",
    );
    expect(consumer?.Properties.Timeout).toBe(90);
    const httpApi = resources.find(
      (r) => r.Type === "AWS::ApiGatewayV2::Api" && r.Properties.ProtocolType === "HTTP",
    );
    expect(httpApi?.Properties.CorsConfiguration.AllowOrigins).toEqual([
      "https://app.example.com",
      "https://admin.example.com",
    ]);
    expect(Object.keys(template.Outputs)).toEqual(expect.arrayContaining(["HttpApiUrl", "WebSocketUrl"]));
  }, 120_000);
});

describe("CDK context given on the command line", () => {
  it("parses -c subscriptions='{...}' as JSON instead of iterating the string", () => {
    const fromString = subscriptionsFromContext(
      '{"billing":{"definition":{"ordering":"stream"},"consumer":{"entry":"c.ts","timeout":90}}}',
    );
    expect(Object.keys(fromString)).toEqual(["billing"]);
    expect(fromString.billing?.definition).toEqual({ ordering: "stream" });
    expect(fromString.billing?.consumer?.timeout?.toSeconds()).toBe(90);
    expect(subscriptionsFromContext('{"a":{}}')).toEqual({ a: {} });
    // cdk.json holds the value as JSON already.
    expect(subscriptionsFromContext({ a: {} })).toEqual({ a: {} });
    expect(subscriptionsFromContext(undefined)).toEqual({});
  });

  it.each([
    ["text that is not JSON", "{a:1}", /Context 'subscriptions' is not valid JSON/],
    [
      "a JSON array",
      "[1,2]",
      /Context 'subscriptions' must be a JSON object of subscriptions by name, not an array/,
    ],
    ["a JSON string", '"billing"', /Context 'subscriptions' must be a JSON object .* not a string/],
    [
      "a subscription that is not an object",
      '{"a":5}',
      /Context 'subscriptions.a' must be an object, not a number/,
    ],
    ["an unknown member", '{"a":{"filter":{}}}', /Context 'subscriptions.a' has unknown member\(s\) filter/],
    [
      "a definition the API would refuse",
      '{"a":{"definition":{"ordering":"global"}}}',
      /Context 'subscriptions.a.definition' is invalid: Invalid subscription: \/ordering must be one of "none", "stream"/,
    ],
    [
      "a consumer without entry",
      '{"a":{"consumer":{}}}',
      /Context 'subscriptions.a.consumer' must be an object with an 'entry'/,
    ],
    [
      "a bad consumer timeout",
      '{"a":{"consumer":{"entry":"c.ts","timeout":"9"}}}',
      /subscriptions.a.consumer.timeout/,
    ],
  ])("refuses %s with a message naming the key", (_name, value, message) => {
    expect(() => subscriptionsFromContext(value)).toThrow(ContextError);
    expect(() => subscriptionsFromContext(value)).toThrow(message);
  });

  it("refuses a number context that is not a number", () => {
    expect(numberContext("listenerDesiredCount", "3")).toBe(3);
    expect(numberContext("listenerDesiredCount", 2)).toBe(2);
    expect(numberContext("listenerDesiredCount", undefined)).toBeUndefined();
    expect(() => numberContext("listenerDesiredCount", "three")).toThrow(
      "Context 'listenerDesiredCount' must be a number, not \"three\".",
    );
  });

  it("fails synth with one clear line for a malformed -c subscriptions", () => {
    let failure: { status: number; stderr: string } | undefined;
    try {
      runApp({ subscriptions: '{"a":' });
    } catch (error) {
      const e = error as { status: number; stderr: Buffer };
      failure = { status: e.status, stderr: e.stderr.toString() };
    }
    expect(failure?.status).toBe(1);
    expect(failure?.stderr).toMatch(/^Context 'subscriptions' is not valid JSON/);
    expect(failure?.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
