import { isAbsolute, join, resolve } from "node:path";
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import {
  Architecture,
  Code,
  Function as LambdaFunction,
  LoggingFormat,
  Runtime,
} from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import { esmRequireShim, fromSources, isPrebundled, lambdaBundleDir, repoRoot } from "./paths.ts";

export interface EventBusFunctionProps {
  /**
   * The module that exports `handler`. The bus's own handlers are named relative to the package root
   * (`functions/http/appendEvents.ts`). Any other module (a subscription consumer) is bundled with esbuild
   * at synth: from the repository's sources it is relative to the repository root; from the installed
   * package it is absolute or relative to the current directory (the CDK app's project).
   */
  entry: string;
  description?: string;
  environment?: Record<string, string>;
  timeout?: Duration;
  memorySize?: number;
  /** Set for functions that talk to Postgres: they run in the VPC's private subnets. */
  vpc?: ec2.IVpc;
  securityGroups?: ec2.ISecurityGroup[];
  logRetention?: RetentionDays;
}

/**
 * Every Lambda of the bus is built the same way: Node 22 on ARM64 (cheaper per GB-second than x86),
 * bundled at synth by the locally installed esbuild (never Docker), ESM, with its own log group so
 * retention is explicit and the group is deleted with the stack.
 */
export function createEventBusFunction(
  scope: Construct,
  id: string,
  props: EventBusFunctionProps,
): LambdaFunction {
  const logGroup = new LogGroup(scope, `${id}Logs`, {
    retention: props.logRetention ?? RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const common = {
    description: props.description ?? props.entry,
    runtime: Runtime.NODEJS_22_X,
    architecture: Architecture.ARM_64,
    memorySize: props.memorySize ?? 512,
    timeout: props.timeout ?? Duration.seconds(29),
    environment: {
      NODE_OPTIONS: "--enable-source-maps",
      ...props.environment,
    },
    loggingFormat: LoggingFormat.JSON,
    logGroup,
    vpc: props.vpc,
    securityGroups: props.securityGroups,
    ...(props.vpc ? { vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } } : {}),
  };
  if (isPrebundled(props.entry)) {
    // Every function shares the one pre-bundled asset; `handler` names the function's own file in it.
    return new LambdaFunction(scope, id, {
      ...common,
      code: Code.fromAsset(lambdaBundleDir),
      handler: `${props.entry.replace(/\.ts$/, "")}.handler`,
    });
  }
  return new NodejsFunction(scope, id, {
    ...common,
    handler: "handler",
    ...(fromSources
      ? {
          entry: join(repoRoot, props.entry),
          projectRoot: repoRoot,
          depsLockFilePath: join(repoRoot, "package-lock.json"),
        }
      : // The user's own module in the user's project: CDK finds that project's lock file from here.
        { entry: isAbsolute(props.entry) ? props.entry : resolve(props.entry) }),
    bundling: {
      forceDockerBundling: false,
      format: OutputFormat.ESM,
      target: "node22",
      mainFields: ["module", "main"],
      banner: esmRequireShim,
      minify: true,
      sourceMap: true,
      // The SDK is bundled rather than taken from the runtime: ESM handlers cannot resolve the runtime's
      // copy, and the bundled one is the exact version the tests ran against.
      externalModules: [],
    },
  });
}
