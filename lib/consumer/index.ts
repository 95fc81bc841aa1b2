/**
 * `serverless-eventbus/consumer`: turns a typed function into the SQS Lambda handler of a subscription's consumer
 * (partial batch failures, in-order handling on FIFO queues).
 *
 * @example
 * ```ts
 * import { createConsumer } from "serverless-eventbus/consumer";
 *
 * export const handler = createConsumer(async (event) => {
 *   if (event.type === "OrderPlaced") await reserveStock(event.data);
 * });
 * ```
 */
export type { EventBusCloudEvent } from "../events/types.ts";
export type { ConsumerContext, EventConsumer } from "./createConsumer.ts";
export { createConsumer } from "./createConsumer.ts";
