import { z } from "zod";
import { attributeValueRule } from "./events/cloudEventAttributes.ts";
import { parseWith } from "./validation.ts";

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/**
 * Every setting the bus reads from its environment, parsed once at the edge (a handler's runtime, the
 * listener's entry point, `npm run dev`) and passed into `lib/` as plain values.
 */
const configSchema = z.object({
  DATABASE_URL: z.string().optional(),
  /** On AWS: a Secrets Manager secret with `{username, password, host, port, dbname}` (RDS or RDS Proxy). */
  DATABASE_SECRET_ARN: z.string().optional(),
  /** Overrides the secret's host, e.g. with the RDS Proxy endpoint. */
  DATABASE_HOST: z.string().optional(),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).default(10),
  /**
   * Named prepared statements (postgres.js's default). `false` behind RDS Proxy: a named prepared statement
   * pins the client to one database connection, which defeats the proxy's multiplexing.
   */
  DATABASE_PREPARE: z
    .enum(["true", "false"])
    .default("true")
    .transform((value) => value === "true"),
  /**
   * API handlers' database sessions (`lock_timeout`, `statement_timeout`, in ms; 0 turns one off). Both stay
   * well below the functions' 29 s timeout, so that a request blocked by a lock (say, an application's open
   * outbox transaction on the same stream) is cancelled and rolled back by Postgres and answered 503
   * `UNAVAILABLE` with `Retry-After`, instead of being cut off by Lambda and perhaps committing afterwards.
   */
  EVENTBUS_DB_LOCK_TIMEOUT_MS: z.coerce.number().int().min(0).max(60_000).default(3000),
  EVENTBUS_DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(0).max(60_000).default(10_000),
  EVENTBUS_JWT_SECRET: z.string().min(16).optional(),
  EVENTBUS_JWT_SECRET_ARN: z.string().optional(),
  EVENTBUS_OIDC_ISSUER: z.string().url().optional(),
  EVENTBUS_OIDC_AUDIENCE: z.string().optional(),
  /** Tokens living longer than this (`exp` - `iat`) are refused; every token must carry `exp`. 30 days. */
  EVENTBUS_TOKEN_MAX_LIFETIME_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .default(30 * 24 * 60 * 60),
  /** HS256 tokens: the required `iss` (what `npm run token` writes by default). */
  EVENTBUS_JWT_ISSUER: z.string().min(1).default("eventbus"),
  /** HS256 tokens: the required `aud`, when set. */
  EVENTBUS_JWT_AUDIENCE: z.string().min(1).optional(),
  EVENTBUS_SOURCE: z
    .string()
    .min(1)
    .default("urn:eventbus")
    // Every event without a producer source carries this one: a bad value would make each of them fail
    // strict CloudEvents parsing downstream, so it is refused at start.
    .refine((source) => attributeValueRule("source", source) === undefined, {
      message: "must be a URI-reference (RFC 3986), such as urn:eventbus or https://example.com/bus",
    }),
  /** Names this bus in its CloudWatch metrics (dimension `Bus`); the CDK stack sets its stack name. */
  EVENTBUS_NAME: z.string().min(1).max(255).default("eventbus"),
  EVENTBUS_HTTP_PORT: port(4000),
  EVENTBUS_WS_PORT: port(4001),
  EVENTBUS_SQS_PORT: port(4002),
  EVENTBUS_DYNAMODB_PORT: port(4003),
  /** `npm run dev`: the embedded Postgres's port (when `DATABASE_URL` is unset). */
  EVENTBUS_PG_PORT: port(4004),
  /** LocalStack or another single AWS endpoint. The SDK also honours AWS_ENDPOINT_URL_SQS / _DYNAMODB. */
  AWS_ENDPOINT_URL: z.string().url().optional(),
  /** Prefix of the SQS queues the bus creates for subscriptions (IAM grants are scoped to it on AWS). */
  EVENTBUS_QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,40}$/)
    .default("eventbus-"),
  /** The realtime fan-out queue the listener feeds and the broadcaster drains. */
  EVENTBUS_REALTIME_QUEUE_URL: z.string().optional(),
  /** Listener: shown as the owner of the subscriptions it forwards (default `<hostname>:<pid>`). */
  EVENTBUS_LISTENER_ID: z.string().min(1).max(40).optional(),
  /** Listener: safety-net catch-up interval, for notifications lost while disconnected. */
  EVENTBUS_LISTENER_POLL_MS: z.coerce.number().int().min(100).default(5000),
  /** Listener: events read per page and subscription. */
  EVENTBUS_LISTENER_PAGE_SIZE: z.coerce.number().int().min(1).max(5000).default(500),
  /** Listener: SendMessageBatch calls in flight across all subscriptions. */
  EVENTBUS_LISTENER_SEND_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
  /** Back-pressure: a subscription pauses while its queue holds more messages than this (0: never). */
  EVENTBUS_MAX_QUEUE_DEPTH: z.coerce.number().int().min(0).default(100000),
  /**
   * Back-pressure: how stale SQS's queue depth may be (AWS documents up to about a minute). Sends within this
   * window count on top of a reading until one shows them, so a subscription whose consumers keep its queue
   * empty forwards at most about EVENTBUS_MAX_QUEUE_DEPTH messages per window. 0 trusts every reading.
   */
  EVENTBUS_QUEUE_DEPTH_LAG_MS: z.coerce.number().int().min(0).default(60000),
  /** A module whose default export is an array of operators (`defineOperator`) the listener runs. */
  EVENTBUS_OPERATORS_MODULE: z.string().optional(),
  /** `npm run dev`: JSON file listing local consumers (default `.eventbus/consumers.json`). */
  EVENTBUS_CONSUMERS_FILE: z.string().optional(),
  /** DynamoDB table of WebSocket connections and topic memberships (keys `pk`, `sk`; TTL `expiresAt`). */
  EVENTBUS_REALTIME_TABLE: z.string().default("eventbus-realtime"),
  /** The WebSocket API's @connections endpoint, e.g. https://{api}.execute-api.{region}.amazonaws.com/{stage}. */
  EVENTBUS_WS_MANAGEMENT_ENDPOINT: z.string().url().optional(),
  AWS_REGION: z.string().default("us-east-1"),
  /**
   * The X-Ray daemon (`host:port`, or `tcp:host:port udp:host:port`): when set, the listener records its hop
   * of each sampled trace there. The construct runs the daemon as a sidecar of the listener's task.
   */
  AWS_XRAY_DAEMON_ADDRESS: z.string().optional(),
});

export type Config = z.output<typeof configSchema>;

/** @throws {EventBusError} `VALIDATION_FAILED` naming the offending variable. */
export const parseConfig = (env: Record<string, string | undefined>): Config =>
  parseWith(configSchema, env, "Invalid configuration");
