import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
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
