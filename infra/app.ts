/**
 * The CDK app (`npx cdk deploy`, `npm run synth`). Deploy-time choices come from CDK context (cdk.json or
 * `-c key=value`), so the same source deploys to any account and region:
 *
 * - `stackName` (default `EventBus`), `queuePrefix` (default `eventbus-`), `source`
 * - `listenerDesiredCount` (default 2), `natGateways` (default 1)
 * - `databaseMinCapacity`, `databaseMaxCapacity`: Aurora Serverless v2 ACUs (default 0.5..4)
 * - `corsAllowOrigins`: comma-separated origins allowed to call the HTTP API from browsers
 * - `databaseSecretArn`: use an existing PostgreSQL (secret `{username, password, host, port, dbname}`)
 *   instead of creating Aurora; with `databasePooledHost` (a pooler in front of it) and
 *   `databaseClientSecurityGroupId` (a group the database admits)
 * - `oidcIssuer`, `oidcAudience`: verify tokens with an OIDC issuer instead of the generated secret
 * - `alarmEmail`: where CloudWatch alarms are sent
 * - `subscriptions`: `{ "<name>": { "definition": {...}, "consumer": { "entry": "...", "timeout": 30 } } }`
 *   (the consumer's timeout in seconds)
 * - `destroyData`: `true` deletes the database and table with the stack (default: snapshot / retain)
 * - `deletionProtection`: `false` lets `cdk destroy` remove the Aurora cluster (default: on)
 */
import { App, Aspects, RemovalPolicy } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { httpRoutes } from "../functions/http/routes.ts";
import { wsRoutes } from "../functions/ws/routes.ts";
import { ContextError, numberContext, subscriptionsFromContext } from "./context.ts";
import { EventBusStack } from "./eventBusStack.ts";

const app = new App();
const context = (key: string): string | undefined => {
  const value = app.node.tryGetContext(key);
  return value === undefined || value === null || value === "" ? undefined : String(value);
};

try {
  synthesize();
} catch (error) {
  // A bad -c value is the user's mistake: one clear line, not a stack trace.
  if (!(error instanceof ContextError)) throw error;
  console.error(error.message);
  process.exit(1);
}

function synthesize() {
  const number = (key: string) => numberContext(key, app.node.tryGetContext(key));
  new EventBusStack(app, context("stackName") ?? "EventBus", {
    description: "Serverless event bus: Postgres event store, SQS subscriptions, WebSocket realtime",
    bus: {
      httpRoutes,
      wsRoutes,
      queuePrefix: context("queuePrefix"),
      source: context("source"),
      listenerDesiredCount: number("listenerDesiredCount"),
      natGateways: number("natGateways"),
      databaseMinCapacity: number("databaseMinCapacity"),
      databaseMaxCapacity: number("databaseMaxCapacity"),
      ...(context("corsAllowOrigins")
        ? {
            corsAllowOrigins: context("corsAllowOrigins")!
              .split(",")
              .map((origin) => origin.trim()),
          }
        : {}),
      removalPolicy: context("destroyData") === "true" ? RemovalPolicy.DESTROY : undefined,
      ...(context("deletionProtection") === undefined
        ? {}
        : { deletionProtection: context("deletionProtection") === "true" }),
      ...(context("oidcIssuer")
        ? { oidc: { issuer: context("oidcIssuer")!, audience: context("oidcAudience") } }
        : {}),
    },
    subscriptions: subscriptionsFromContext(app.node.tryGetContext("subscriptions")),
    alarmEmail: context("alarmEmail"),
    ...(context("databaseSecretArn")
      ? {
          existingDatabase: {
            secretArn: context("databaseSecretArn")!,
            pooledHost: context("databasePooledHost"),
            clientSecurityGroupId: context("databaseClientSecurityGroupId"),
          },
        }
      : {}),
  });

  // cdk-nag runs on every synth: an unexplained finding fails `cdk synth` and `cdk deploy`.
  Aspects.of(app).add(new AwsSolutionsChecks());
}
