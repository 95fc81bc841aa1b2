import type { Sql } from "postgres";
import { type Subscription, type SubscriptionRow, toSubscription } from "./subscriptionRow.ts";

/** Every registered subscription, by name. */
export async function listSubscriptions(sql: Sql): Promise<Subscription[]> {
  const rows = await sql<SubscriptionRow[]>`select * from eventbus.subscriptions order by name`;
  return rows.map(toSubscription);
}
