#!/usr/bin/env bash
# Runs inside LocalStack once its services are ready: creates what the CDK stack creates on AWS and the
# free edition can hold - the realtime fan-out queue with its DLQ, the realtime table, the token secret.
# Subscription queues are not created here: the bus creates them (PUT /subscriptions/{name}).
set -euo pipefail

prefix="${EVENTBUS_QUEUE_PREFIX:-eventbus-}"
table="${EVENTBUS_REALTIME_TABLE:-eventbus-realtime}"
region="${AWS_DEFAULT_REGION:-us-east-1}"

dlq_url="$(awslocal sqs create-queue --region "$region" --queue-name "${prefix}realtime-dlq" \
  --attributes MessageRetentionPeriod=1209600 --query QueueUrl --output text)"
dlq_arn="$(awslocal sqs get-queue-attributes --region "$region" --queue-url "$dlq_url" \
  --attribute-names QueueArn --query Attributes.QueueArn --output text)"
# The redrive policy is a JSON document inside the attributes' JSON, hence the escaped quotes.
redrive="{\"deadLetterTargetArn\":\"${dlq_arn}\",\"maxReceiveCount\":\"5\"}"
attributes="{\"VisibilityTimeout\":\"180\",\"MessageRetentionPeriod\":\"3600\",\"RedrivePolicy\":\"${redrive//\"/\\\"}\"}"
awslocal sqs create-queue --region "$region" --queue-name "${prefix}realtime" --attributes "$attributes" >/dev/null

if ! awslocal dynamodb describe-table --region "$region" --table-name "$table" >/dev/null 2>&1; then
  awslocal dynamodb create-table --region "$region" --table-name "$table" \
    --attribute-definitions AttributeName=pk,AttributeType=S AttributeName=sk,AttributeType=S \
    --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE \
    --billing-mode PAY_PER_REQUEST >/dev/null
  awslocal dynamodb update-time-to-live --region "$region" --table-name "$table" \
    --time-to-live-specification Enabled=true,AttributeName=expiresAt >/dev/null
fi

if ! awslocal secretsmanager describe-secret --region "$region" --secret-id eventbus/jwt >/dev/null 2>&1; then
  awslocal secretsmanager create-secret --region "$region" --name eventbus/jwt \
    --secret-string "$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 64)" >/dev/null
fi

echo "eventbus: realtime queue ${prefix}realtime, table ${table}, secret eventbus/jwt ready"
