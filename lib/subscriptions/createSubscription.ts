import type { SQSClient } from "@aws-sdk/client-sqs";
import type { Sql } from "postgres";
import { EventBusError } from "../errors.ts";
import { readSafeHead } from "../events/readSafeHead.ts";
import { assertNotBeyondHead } from "./assertNotBeyondHead.ts";
import { type SubscriptionDefinition, sameDefinition } from "./definition.ts";
import { findSubscription } from "./getSubscription.ts";
import { createSubscriptionQueues, restoreMissingQueues } from "./subscriptionQueues.ts";
import type { Subscription, SubscriptionRow } from "./subscriptionRow.ts";
import { toSubscription } from "./subscriptionRow.ts";

export interface CreateSubscriptionResult {
  subscription: Subscription;
  /** `false` when an identical subscription already existed (nothing was changed). */
  created: boolean;
}

function conflict(name: string): EventBusError {
  return new EventBusError(
    "SUBSCRIPTION_CONFLICT",
    `Subscription '${name}' already exists with a different definition; delete it first to change it.`,
    { name },
  );
}

/**
 * Creates a subscription with its queue and DLQ, idempotently: an identical definition is a no-op (except
 * that a queue or DLQ deleted outside the bus is re-created, see `restoreMissingQueues`), a different one a
 * `SUBSCRIPTION_CONFLICT`. The queues are created before the row so that the listener
 * never sees a subscription without its queue. The checkpoint starts at 0 (`origin`), at the current head
 * (`current`) or at the given position: the first event delivered is the one after it.
 *
 * @throws {EventBusError} `SUBSCRIPTION_CONFLICT`; `VALIDATION_FAILED` for a `startFrom` beyond the head.
 */
export async function createSubscription(
  sql: Sql,
  sqs: SQSClient,
  options: { name: string; definition: SubscriptionDefinition; queuePrefix: string },
): Promise<CreateSubscriptionResult> {
  const { name, definition } = options;
  const existing = await findSubscription(sql, name);
  if (existing) {
    if (!sameDefinition(pickDefinition(existing), definition)) throw conflict(name);
    await restoreMissingQueues(sqs, options.queuePrefix, existing);
    return { subscription: existing, created: false };
  }
  if (typeof definition.startFrom === "number") {
    await assertNotBeyondHead(sql, "startFrom", definition.startFrom);
  }
  const { queueUrl, dlqUrl } = await createSubscriptionQueues(sqs, options.queuePrefix, name, definition);
  // "current" is the gap-safe head, read before (and outside) the transaction its probe must not share: an
  // event that commits after this call, even with a lower position, is still delivered.
  const current = definition.startFrom === "current" ? await readSafeHead(sql) : 0;
  const inserted = await sql.begin(async (tx) => {
    const [row] = await tx<SubscriptionRow[]>`
      insert into eventbus.subscriptions (name, definition, queue_url, dlq_url)
      values (${name}, ${tx.json(definition as never)}, ${queueUrl}, ${dlqUrl})
      on conflict (name) do nothing
      returning *`;
    if (!row) return undefined;
    const start =
      definition.startFrom === "origin"
        ? 0
        : definition.startFrom === "current"
          ? current
          : // A position is the first one delivered (like `from` elsewhere); the checkpoint is the last one done.
            Math.max(0, definition.startFrom - 1);
    await tx`
      insert into eventbus.checkpoints (name, lock_id, position)
      values (${name}, ${row.id}, ${start})
      on conflict (name) do update set lock_id = excluded.lock_id, position = excluded.position,
        generation = eventbus.checkpoints.generation + 1, updated_at = now()`;
    return toSubscription(row);
  });
  if (inserted) return { subscription: inserted, created: true };
  // A concurrent request created it first.
  const winner = await findSubscription(sql, name);
  if (!winner || !sameDefinition(pickDefinition(winner), definition)) throw conflict(name);
  return { subscription: winner, created: false };
}

/** The definition part of a stored subscription; ones stored before `format` and `inputTransformer` existed get their defaults. */
export const pickDefinition = (s: SubscriptionDefinition): SubscriptionDefinition => ({
  filter: s.filter,
  startFrom: s.startFrom,
  ordering: s.ordering,
  maxReceiveCount: s.maxReceiveCount,
  visibilityTimeout: s.visibilityTimeout,
  format: s.format ?? "cloudevent",
  inputTransformer: s.inputTransformer ?? null,
});
