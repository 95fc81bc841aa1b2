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
import { App, Aspects, Duration, RemovalPolicy } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { httpRoutes } from "../functions/http/routes.ts";
import { wsRoutes } from "../functions/ws/routes.ts";
import { EventBusStack } from "./eventBusStack.ts";
import type { EventBusSubscriptionProps } from "./subscription.ts";

/** JSON context cannot hold a `Duration`: a consumer's `timeout` is given there in seconds. */
type ContextSubscription = Omit<EventBusSubscriptionProps, "consumer"> & {
  consumer?: Omit<NonNullable<EventBusSubscriptionProps["consumer"]>, "timeout"> & { timeout?: number };
};

function subscriptionsFromContext(
  value: Record<string, ContextSubscription>,
): Record<string, EventBusSubscriptionProps> {
  const entries = Object.entries(value).map(
    ([name, { consumer, ...rest }]): [string, EventBusSubscriptionProps] => {
      if (!consumer) return [name, rest];
      const { timeout, ...options } = consumer;
      return [
        name,
        {
          ...rest,
          consumer: { ...options, ...(timeout === undefined ? {} : { timeout: Duration.seconds(timeout) }) },
        },
      ];
    },
  );
  return Object.fromEntries(entries);
}

const app = new App();
const context = (key: string): string | undefined => {
  const value = app.node.tryGetContext(key);
  return value === undefined || value === null || value === "" ? undefined : String(value);
};
const numberContext = (key: string): number | undefined => {
  const value = context(key);
  return value === undefined ? undefined : Number(value);
};

new EventBusStack(app, context("stackName") ?? "EventBus", {
  description: "Serverless event bus: Postgres event store, SQS subscriptions, WebSocket realtime",
  bus: {
    httpRoutes,
    wsRoutes,
    queuePrefix: context("queuePrefix"),
    source: context("source"),
    listenerDesiredCount: numberContext("listenerDesiredCount"),
    natGateways: numberContext("natGateways"),
    databaseMinCapacity: numberContext("databaseMinCapacity"),
    databaseMaxCapacity: numberContext("databaseMaxCapacity"),
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
  subscriptions: subscriptionsFromContext(app.node.tryGetContext("subscriptions") ?? {}),
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
