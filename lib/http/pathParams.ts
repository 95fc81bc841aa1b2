import { z } from "zod";
import { CAPTURE_NAME } from "../capture/captureNames.ts";
import { STREAM_ID } from "../events/streamId.ts";
import { MAX_TOPIC_NAME_LENGTH } from "../realtime/topic.ts";
import { SUBSCRIPTION_NAME } from "../subscriptions/definition.ts";

/*
 * The values of path parameters, as zod schemas: the routes validate with them and the OpenAPI document
 * (and its response schemas' `streamId` and `name`) is generated from them. The rules are the domain's
 * (`assertStreamId`, `assertSubscriptionName`, `assertCaptureName`), whose patterns they share;
 * test/http/routeParams.test.ts checks that both accept and refuse the same values.
 */

const STREAM_ID_RULE = "must be 1-200 characters of A-Z a-z 0-9 _ . : @ - starting with a letter or digit";

/** A stream id, as `assertStreamId` accepts it. */
export const streamIdParam = z
  .string({ error: STREAM_ID_RULE })
  .min(1, { error: STREAM_ID_RULE })
  .max(200, { error: STREAM_ID_RULE })
  .regex(STREAM_ID, { error: STREAM_ID_RULE })
  .describe("1-200 characters of A-Za-z0-9 _ . : @ -, starting alphanumeric.");

const SUBSCRIPTION_NAME_RULE = "must be 1-64 characters of A-Z, a-z, 0-9, '_' and '-'";

/**
 * A subscription name, as `assertSubscriptionName` accepts it. The limit a long queue prefix sets (SQS
 * queue names stop at 80 characters) depends on the deployment: the handler checks it after this.
 */
export const subscriptionNameParam = z
  .string({ error: SUBSCRIPTION_NAME_RULE })
  .regex(SUBSCRIPTION_NAME, { error: SUBSCRIPTION_NAME_RULE })
  .refine((name) => name !== "realtime", {
    error: "is reserved: its queue name is the realtime fan-out queue's",
  })
  .describe("1-64 characters of A-Za-z0-9 _ -; `realtime` is reserved.");

const CAPTURE_NAME_RULE = "must match ^[a-z][a-z0-9_]{0,62}$ (it becomes the streams' category)";

/** A capture's name, as `assertCaptureName` accepts it: it becomes a category and an event type prefix. */
export const captureNameParam = z
  .string({ error: CAPTURE_NAME_RULE })
  .regex(CAPTURE_NAME, { error: CAPTURE_NAME_RULE })
  .describe("The streams' category and the event types' prefix.");

const TOPIC_RULE = `must be 1-${MAX_TOPIC_NAME_LENGTH} characters`;

/** A topic; which topics a route accepts (rooms, not event topics) is the route's own rule, stated in prose. */
export const topicParam = z
  .string({ error: TOPIC_RULE })
  .min(1, { error: TOPIC_RULE })
  .max(MAX_TOPIC_NAME_LENGTH, { error: TOPIC_RULE });

/** A WebSocket connection's id, as `pong` frames give it. */
export const connectionIdParam = z.string().min(1, { error: "must not be empty" });

/** An operator's name, as the listener registered it. */
export const operatorNameParam = z.string().min(1, { error: "must not be empty" });
