import { readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { AssetHashType, DockerImage, Duration, RemovalPolicy } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import {
  Architecture,
  Code,
  Function as LambdaFunction,
  LoggingFormat,
  Runtime,
  Tracing,
} from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import { bundleLambdaHandlers, busLambdaEntries } from "./bundleHandlers.ts";
import { esmRequireShim, fromSources, lambdaBundleDir, repoRoot } from "./paths.ts";

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

let packagedEntries: Set<string> | undefined;

/** Whether `entry` is one of the bus's own handlers, which all live in one shared asset. */
function isBusHandler(entry: string): boolean {
  if (fromSources) return busLambdaEntries.includes(entry);
  packagedEntries ??= new Set(JSON.parse(readFileSync(join(lambdaBundleDir, "entries.json"), "utf8")));
  return packagedEntries.has(entry);
}

/**
 * The asset holding every handler of the bus. Installed, it is the package's pre-built dist/lambda. From
 * the sources, the same bundle is made at synth by the local esbuild (never Docker): CDK stages assets with
 * the same source and options once, so one esbuild run serves every function.
 */
function busHandlersCode(): Code {
  if (!fromSources) return Code.fromAsset(lambdaBundleDir);
  return Code.fromAsset(repoRoot, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // CDK insists on an image; local bundling always succeeds or throws, so it is never pulled.
      image: DockerImage.fromRegistry("public.ecr.aws/docker/library/node:22-bookworm-slim"),
      local: {
        tryBundle(outputDir: string) {
          bundleLambdaHandlers(outputDir);
          return true;
        },
      },
    },
  });
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
    // X-Ray: the handlers' Powertools tracer records into it, and SQS consumers join traces through
    // the AWSTraceHeader the listener sets from each event's traceparent.
    tracing: Tracing.ACTIVE,
    logGroup,
    vpc: props.vpc,
    securityGroups: props.securityGroups,
    ...(props.vpc ? { vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } } : {}),
  };
  if (isBusHandler(props.entry)) {
    // Every function shares the one asset; `handler` names the function's own file in it.
    return new LambdaFunction(scope, id, {
      ...common,
      code: busHandlersCode(),
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
