import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Aspects } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { httpRoutes } from "../../functions/http/routes.ts";
import { wsRoutes } from "../../functions/ws/routes.ts";
import { EventBusStack, type EventBusStackProps } from "../../infra/eventBusStack.ts";

export interface Synthesised {
  stack: EventBusStack;
  template: Template;
  /** The cloud assembly directory (bundled functions, the listener's staged build context). */
  outdir: string;
  /** cdk-nag findings that no suppression explains, as "rule at path: message". */
  nagFindings: string[];
}

/**
 * Synthesises the stack the way `cdk synth` does, with cdk-nag's AwsSolutions pack. `bundle: false`
 * skips esbuild (CDK's `aws:cdk:bundling-stacks` context) for tests that only look at the template.
 */
export function synthesise(options: { bundle: boolean } & Partial<EventBusStackProps>): Synthesised {
  const outdir = mkdtempSync(join(tmpdir(), "eventbus-cdk-"));
  const app = new App({
    outdir,
    context: {
      // What the CDK CLI sets: construct paths and asset paths in resource metadata.
      "aws:cdk:enable-path-metadata": true,
      "aws:cdk:enable-asset-metadata": true,
      ...(options.bundle ? {} : { "aws:cdk:bundling-stacks": [] }),
    },
  });
  const { bundle: _bundle, ...props } = options;
  const stack = new EventBusStack(app, "EventBusTest", {
    ...props,
    bus: { httpRoutes, wsRoutes, ...props.bus },
  });
  Aspects.of(app).add(new AwsSolutionsChecks());
  app.synth();
  const annotations = Annotations.fromStack(stack);
  const nagFindings = [
    ...annotations.findError("*", Match.stringLikeRegexp("AwsSolutions-")),
    ...annotations.findWarning("*", Match.stringLikeRegexp("AwsSolutions-")),
  ].map((m) => `${m.id}: ${String(m.entry.data).slice(0, 160)}`);
  return { stack, template: Template.fromStack(stack), outdir, nagFindings };
}

/** Resources of one type, as `[logicalId, resource]` pairs. */
export function resourcesOf(template: Template, type: string): Array<[string, any]> {
  return Object.entries(template.findResources(type));
}

/** The logical id of the Lambda function whose construct path ends with `/<id>`. */
export function functionLogicalId(template: Template, id: string): string {
  const match = resourcesOf(template, "AWS::Lambda::Function").find(([, r]) =>
    String(r.Metadata?.["aws:cdk:path"]).endsWith(`/${id}/Resource`),
  );
  if (!match) throw new Error(`no function ${id}`);
  return match[0];
}

/** The Lambda function resource whose construct id is `id`. */
export function functionResource(template: Template, id: string): any {
  return template.findResources("AWS::Lambda::Function")[functionLogicalId(template, id)]!;
}

/** Every IAM action granted to a function's role by its default policy, with the resources. */
export function grantsOf(
  template: Template,
  functionId: string,
): Array<{ actions: string[]; resource: string }> {
  const fn = functionResource(template, functionId);
  const roleId = fn.Properties.Role["Fn::GetAtt"][0];
  const policies = resourcesOf(template, "AWS::IAM::Policy").filter(([, p]) =>
    p.Properties.Roles.some((r: any) => r.Ref === roleId),
  );
  return policies.flatMap(([, p]) =>
    p.Properties.PolicyDocument.Statement.map((s: any) => ({
      actions: [s.Action].flat(),
      resource: JSON.stringify(s.Resource),
    })),
  );
}
