/**
 * `serverless-eventbus/cdk`: the CDK constructs of the bus. `aws-cdk-lib` and `constructs` are peer dependencies, so
 * these constructs join the app's own construct tree. From the installed package the Lambda handlers and the
 * listener image come pre-bundled (dist/lambda, dist/listener): synth needs neither esbuild nor Docker
 * for them, only for the consumers you declare.
 *
 * @example
 * ```ts
 * import { App, Stack } from "aws-cdk-lib";
 * import { EventBus } from "serverless-eventbus/cdk";
 *
 * const app = new App();
 * const stack = new Stack(app, "Orders");
 * new EventBus(stack, "Bus", {
 *   subscriptions: { billing: { definition: { filter: { type: ["OrderPlaced"] } } } },
 * });
 * ```
 *
 * Alarms and a dashboard: `new EventBusMonitoring(stack, "Monitoring", { bus })`. The repository's own
 * `EventBusStack` is not exported: it applies cdk-nag suppressions, and cdk-nag is not a dependency.
 */
export type { EventBusDatabaseProps, ExistingDatabase } from "./database.ts";
export { EventBusDatabase } from "./database.ts";
export type { EventBusFunctions, EventBusProps, RouteDefinition } from "./eventBus.ts";
export { EventBus } from "./eventBus.ts";
export type { EventBusMonitoringProps } from "./monitoring.ts";
export { EventBusMonitoring } from "./monitoring.ts";
export type {
  EventBusSubscriptionProps,
  SubscriptionConsumer,
  SubscriptionDefinitionInput,
} from "./subscription.ts";
export { EventBusSubscription } from "./subscription.ts";
