#!/usr/bin/env bash
# `npm run dev` against the compose stack (docker compose -f localstack/docker-compose.yml up): SQS and
# DynamoDB from LocalStack, the compose Postgres, the token secret from LocalStack's Secrets Manager. The
# HTTP API and the WebSocket gateway (which LocalStack's free edition cannot emulate) run here, on Node.
# Run from anywhere; extra arguments go to `npm run dev`.
set -euo pipefail
cd "$(dirname "$0")/.."

export AWS_ENDPOINT_URL="${AWS_ENDPOINT_URL:-http://localhost.localstack.cloud:4566}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export DATABASE_URL="${DATABASE_URL:-postgres://eventbus:eventbus@localhost:5432/eventbus}"
export EVENTBUS_QUEUE_PREFIX="${EVENTBUS_QUEUE_PREFIX:-eventbus-}"
export EVENTBUS_REALTIME_QUEUE_URL="${EVENTBUS_REALTIME_QUEUE_URL:-http://sqs.${AWS_REGION}.localhost.localstack.cloud:4566/000000000000/${EVENTBUS_QUEUE_PREFIX}realtime}"

if [ -z "${EVENTBUS_JWT_SECRET:-}" ]; then
  # The same secret the init script stored, so tokens minted with it work against this bus.
  EVENTBUS_JWT_SECRET="$(node --input-type=module -e '
    import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
    const client = new SecretsManagerClient({});
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: "eventbus/jwt" }));
    process.stdout.write(SecretString);
  ')"
  export EVENTBUS_JWT_SECRET
fi

exec npm run dev -- "$@"
