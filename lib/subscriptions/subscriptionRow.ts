import type { SubscriptionDefinition } from "./definition.ts";

/** A registered subscription: its definition and its queues. */
export interface Subscription extends SubscriptionDefinition {
  name: string;
  /** Internal: the key of its ownership lock. */
  id: number;
  queueUrl: string;
  dlqUrl: string;
  createdAt: Date;
}

/** The columns of `eventbus.subscriptions` as postgres.js returns them. */
export interface SubscriptionRow {
  name: string;
  id: number;
  definition: SubscriptionDefinition;
  queue_url: string;
  dlq_url: string;
  created_at: Date;
}

export const toSubscription = (row: SubscriptionRow): Subscription => ({
  name: row.name,
  id: row.id,
  ...row.definition,
  queueUrl: row.queue_url,
  dlqUrl: row.dlq_url,
  createdAt: row.created_at,
});
