import { join } from "node:path";
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import { Architecture, LoggingFormat, Runtime } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import { repoRoot } from "./paths.ts";

export interface EventBusFunctionProps {
  /** Module path relative to the repository root; it exports `handler`. */
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
 * The package is ESM and some dependencies are still CommonJS; this shim gives their `require` calls a
 * working `require` inside the ESM bundle.
 */
const esmRequireShim =
  "import { createRequire as __eventbusCreateRequire } from 'node:module'; const require = __eventbusCreateRequire(import.meta.url);";

/**
 * Every Lambda of the bus is built the same way: Node 22 on ARM64 (cheaper per GB-second than x86),
 * bundled at synth by the locally installed esbuild (never Docker), ESM, with its own log group so
 * retention is explicit and the group is deleted with the stack.
 */
export function createEventBusFunction(
  scope: Construct,
  id: string,
  props: EventBusFunctionProps,
): NodejsFunction {
  const logGroup = new LogGroup(scope, `${id}Logs`, {
    retention: props.logRetention ?? RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  return new NodejsFunction(scope, id, {
    entry: join(repoRoot, props.entry),
    handler: "handler",
    description: props.description ?? props.entry,
    runtime: Runtime.NODEJS_22_X,
    architecture: Architecture.ARM_64,
    memorySize: props.memorySize ?? 512,
    timeout: props.timeout ?? Duration.seconds(29),
    projectRoot: repoRoot,
    depsLockFilePath: join(repoRoot, "package-lock.json"),
    environment: {
      NODE_OPTIONS: "--enable-source-maps",
      ...props.environment,
    },
    loggingFormat: LoggingFormat.JSON,
    logGroup,
    vpc: props.vpc,
    securityGroups: props.securityGroups,
    ...(props.vpc ? { vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } } : {}),
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
