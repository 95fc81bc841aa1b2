import type { Sql } from "postgres";

/**
 * Points a subscription at (re-created) queues. Only `npm run dev` needs it: its in-memory SQS stand-in
 * starts empty, possibly on another port, while the subscriptions persist in Postgres.
 */
export async function updateSubscriptionQueues(
  sql: Sql,
  name: string,
  queues: { queueUrl: string; dlqUrl: string },
): Promise<void> {
  await sql`
    update eventbus.subscriptions set queue_url = ${queues.queueUrl}, dlq_url = ${queues.dlqUrl}
    where name = ${name}`;
}
