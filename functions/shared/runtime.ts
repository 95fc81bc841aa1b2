import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { createHs256Verifier, createOidcVerifier, type TokenVerifier } from "../../lib/auth/token.ts";
import { type Config, parseConfig } from "../../lib/config.ts";
import { createSql, type Sql } from "../../lib/db/client.ts";
import { neverDeferWakeUps } from "../../lib/events/wakeListeners.ts";
import { cacheVerifiedTokens } from "../../lib/http/cachedTokenVerifier.ts";
import { instrumentHttpHandlers } from "../../lib/http/instrumentation.ts";
import { recordHttpRequest } from "../../lib/metrics/httpMetrics.ts";
import { createLambdaMetrics } from "../../lib/metrics/lambdaMetrics.ts";
import { metrics } from "../../lib/metrics/registry.ts";

/** Everything a handler needs, built once per execution environment from its environment variables. */
export interface Runtime {
  config: Config;
  sql: Sql;
  verifyToken: TokenVerifier;
  /** CloudEvents `source` of events leaving the bus. */
  source: string;
  /** Endpoints come from the SDK's own settings (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SQS, ...). */
  sqs: SQSClient;
  dynamo: DynamoDBDocumentClient;
}

// On Lambda, every HTTP handler is traced (Powertools tracer, X-Ray) and records its request and append
// figures as CloudWatch EMF, flushed after each invocation. Locally nothing is added: `npm run dev` observes
// requests in its HTTP adapter and serves them at /metrics.
//
// The tracer is imported only where it traces: importing the X-Ray SDK (which the Powertools tracer does)
// creates its cls-hooked namespace, an async hook with destroy tracking that taxes every promise in the
// process, whether or not anything is traced. `npm run dev`, the tests and the benchmarks import these
// handlers too, and a function with tracing turned off has no use for it either.
if (process.env.AWS_LAMBDA_FUNCTION_NAME) {
  const serviceName = "eventbus-http";
  const lambdaMetrics = createLambdaMetrics(metrics, {
    bus: process.env.EVENTBUS_NAME ?? "eventbus",
    serviceName,
  });
  const middlewares = [lambdaMetrics.middleware];
  if (process.env.POWERTOOLS_TRACE_ENABLED !== "false") {
    const { createTracer, traceHandler } = await import("../../lib/tracing/lambdaTracer.ts");
    middlewares.unshift(traceHandler(createTracer({ serviceName, enabled: true })));
  }
  instrumentHttpHandlers({
    middlewares,
    observe: (routeKey, status, seconds) => recordHttpRequest(metrics, routeKey, status, seconds),
  });
}

let runtime: Promise<Runtime> | undefined;

/** The memoised runtime of this process. */
export function getRuntime(): Promise<Runtime> {
  runtime ??= createRuntime(parseConfig(process.env)).catch((error) => {
    runtime = undefined; // let the next invocation try again rather than failing forever
    throw error;
  });
  return runtime;
}

async function readSecret(config: Config, arn: string): Promise<string> {
  const client = new SecretsManagerClient({ region: config.AWS_REGION });
  const result = await client.send(new GetSecretValueCommand({ SecretId: arn }));
  if (!result.SecretString) throw new Error(`secret ${arn} has no string value`);
  return result.SecretString;
}

/** The Postgres URL from `DATABASE_URL`, or built from the Secrets Manager secret (host overridable). */
export async function databaseUrl(config: Config): Promise<string> {
  if (config.DATABASE_URL) return config.DATABASE_URL;
  if (!config.DATABASE_SECRET_ARN) throw new Error("DATABASE_URL or DATABASE_SECRET_ARN must be set");
  const secret = JSON.parse(await readSecret(config, config.DATABASE_SECRET_ARN)) as Record<string, unknown>;
  const url = new URL("postgres://");
  url.username = encodeURIComponent(String(secret.username));
  url.password = encodeURIComponent(String(secret.password));
  url.hostname = config.DATABASE_HOST ?? String(secret.host);
  url.port = String(secret.port ?? 5432);
  url.pathname = `/${String(secret.dbname ?? "postgres")}`;
  url.searchParams.set("sslmode", "require");
  return url.toString();
}

async function tokenVerifier(config: Config): Promise<TokenVerifier> {
  const maxLifetimeSeconds = config.EVENTBUS_TOKEN_MAX_LIFETIME_SECONDS;
  if (config.EVENTBUS_OIDC_ISSUER) {
    return createOidcVerifier({
      issuer: config.EVENTBUS_OIDC_ISSUER,
      maxLifetimeSeconds,
      ...(config.EVENTBUS_OIDC_AUDIENCE ? { audience: config.EVENTBUS_OIDC_AUDIENCE } : {}),
    });
  }
  const policy = {
    maxLifetimeSeconds,
    issuer: config.EVENTBUS_JWT_ISSUER,
    ...(config.EVENTBUS_JWT_AUDIENCE ? { audience: config.EVENTBUS_JWT_AUDIENCE } : {}),
  };
  if (config.EVENTBUS_JWT_SECRET) return createHs256Verifier(config.EVENTBUS_JWT_SECRET, policy);
  if (config.EVENTBUS_JWT_SECRET_ARN) {
    return createHs256Verifier(await readSecret(config, config.EVENTBUS_JWT_SECRET_ARN), policy);
  }
  throw new Error("EVENTBUS_JWT_SECRET, EVENTBUS_JWT_SECRET_ARN or EVENTBUS_OIDC_ISSUER must be set");
}

/**
 * Session settings, sent in the connection's startup message so they cost no extra round trip: a lock wait
 * or statement that outlives them is cancelled and rolled back by Postgres.
 */
export const sessionTimeouts = (config: Config) => ({
  lock_timeout: config.EVENTBUS_DB_LOCK_TIMEOUT_MS,
  statement_timeout: config.EVENTBUS_DB_STATEMENT_TIMEOUT_MS,
});

async function createRuntime(config: Config): Promise<Runtime> {
  const [url, verifier] = await Promise.all([databaseUrl(config), tokenVerifier(config)]);
  // Clients send the same token with every request: check its signature once a minute, not every time.
  const verifyToken = cacheVerifiedTokens(verifier);
  const sql = createSql(url, {
    max: config.DATABASE_POOL_MAX,
    prepare: config.DATABASE_PREPARE,
    connection: sessionTimeouts(config),
  });
  // Lambda freezes the process once it has answered: a wake-up held back would wait for the next request.
  if (process.env.AWS_LAMBDA_FUNCTION_NAME) neverDeferWakeUps(sql);
  return {
    config,
    sql,
    verifyToken,
    source: config.EVENTBUS_SOURCE,
    // Queue URLs are used as given, never as the endpoint: local stand-ins hand out URLs whose host is not
    // the endpoint's (and not even a valid URL host), while on AWS the two agree anyway.
    sqs: new SQSClient({ region: config.AWS_REGION, useQueueUrlAsEndpoint: false }),
    dynamo: DynamoDBDocumentClient.from(new DynamoDBClient({ region: config.AWS_REGION }), {
      marshallOptions: { removeUndefinedValues: true },
    }),
  };
}
