import type { SQSClient } from "@aws-sdk/client-sqs";
import pLimit from "p-limit";
import type { Sql } from "postgres";
import { cloudEventJson } from "../listener/cloudEventJson.ts";
import { subscriptionBody, subscriptionMessages } from "../listener/eventMessages.ts";
import { sendMessages } from "../listener/sendMessages.ts";
import { metrics } from "../metrics/registry.ts";
import { readForwardEvents } from "./readForwardPage.ts";
import type { Subscription } from "./subscriptionRow.ts";

export interface ParkedRedriveResult {
  /** Parked events SQS accepted this time; they are no longer parked. */
  redriven: number;
  /** Parked events SQS refused again; they stay parked with the new reason. */
  stillParked: number;
}

const PAGE = 100;

/**
 * Sends a subscription's parked events to its queue again, oldest first. Accepted ones leave the parked
 * list; refused ones stay, with SQS's latest reason. Transient SQS errors are retried until `signal`
 * aborts, which ends the redrive early with what was done so far.
 */
export async function redriveParked(
  sql: Sql,
  sqs: SQSClient,
  subscription: Subscription,
  options: { source: string; signal: AbortSignal },
): Promise<ParkedRedriveResult> {
  const result: ParkedRedriveResult = { redriven: 0, stillParked: 0 };
  const fifo = subscription.ordering === "stream";
  let after = -1;
  while (!options.signal.aborted) {
    const parked = await sql<{ position: number }[]>`
      select position from eventbus.parked
      where name = ${subscription.name} and position > ${after}
      order by position limit ${PAGE}`;
    if (parked.length === 0) break;
    after = parked.at(-1)!.position;
    const events = await readForwardEvents(
      sql,
      parked.map((p) => p.position),
    );
    const outgoing = events.map((event) => ({ event, json: cloudEventJson(event, options.source) }));
    const messages = subscriptionMessages(
      outgoing,
      fifo,
      `p${Date.now()}`,
      subscriptionBody(subscription.name, subscription),
    );
    let refused: Awaited<ReturnType<typeof sendMessages>>;
    try {
      refused = await sendMessages(
        { sqs, queueUrl: subscription.queueUrl, limit: pLimit(4), fifo, signal: options.signal },
        messages,
      );
    } catch (error) {
      if (options.signal.aborted) break;
      throw error;
    }
    const refusedAt = new Map(refused.map((r) => [r.message.events![0]!.position, r.reason]));
    const accepted = parked.map((p) => p.position).filter((position) => !refusedAt.has(position));
    await sql`delete from eventbus.parked where name = ${subscription.name} and position = any(${accepted}::int8[])`;
    for (const [position, reason] of refusedAt) {
      await sql`
        update eventbus.parked set reason = ${reason.slice(0, 1000)}, parked_at = now()
        where name = ${subscription.name} and position = ${position}`;
    }
    result.redriven += accepted.length;
    metrics.count("eventbus_redriven_events_total", { subscription: subscription.name }, accepted.length);
    result.stillParked += refusedAt.size;
  }
  return result;
}
