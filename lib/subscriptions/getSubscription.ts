import type { Sql } from "postgres";
import { EventBusError } from "../errors.ts";
import { type Subscription, type SubscriptionRow, toSubscription } from "./subscriptionRow.ts";

/** The subscription named `name`, or `undefined`. */
export async function findSubscription(sql: Sql, name: string): Promise<Subscription | undefined> {
  const [row] = await sql<SubscriptionRow[]>`select * from eventbus.subscriptions where name = ${name}`;
  return row ? toSubscription(row) : undefined;
}

/**
 * The subscription named `name`.
 * @throws {EventBusError} `SUBSCRIPTION_NOT_FOUND`.
 */
export async function getSubscription(sql: Sql, name: string): Promise<Subscription> {
  const subscription = await findSubscription(sql, name);
  if (!subscription) {
    throw new EventBusError("SUBSCRIPTION_NOT_FOUND", `Subscription '${name}' does not exist.`, { name });
  }
  return subscription;
}
