/**
 * `serverless-eventbus/testing`: helpers for testing code that consumes the bus, against a real (local or deployed)
 * bus and its SQS queues.
 */
export { ExpectEventsError, type ExpectEventsOptions, expectEvents } from "./expectEvents.ts";
export { describeMatcher, type EventMatcher, matches, partialEquals, pattern } from "./matchers.ts";
export { type RunConsumerOptions, runConsumer } from "./runConsumer.ts";
