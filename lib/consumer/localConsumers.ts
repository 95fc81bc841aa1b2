import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { Sql } from "postgres";
import { z } from "zod";
import { type SqsLambda, startSqsPoller } from "../local/sqsPoller.ts";
import { findSubscription } from "../subscriptions/getSubscription.ts";
import { parseWith } from "../validation.ts";

const consumersSchema = z
  .object({
    consumers: z.array(
      z
        .object({
          /** The subscription whose queue it drains. */
          subscription: z.string().min(1),
          /** `path/to/module.ts#exportName` relative to the project root; `#handler` when omitted. */
          handler: z.string().min(1),
          batchSize: z.number().int().min(1).max(10).default(10),
          concurrency: z.number().int().min(1).max(20).default(1),
        })
        .strict(),
    ),
  })
  .strict();

export type LocalConsumersFile = z.output<typeof consumersSchema>;

/**
 * Reads the local consumer list (`.eventbus/consumers.json` unless `EVENTBUS_CONSUMERS_FILE` says
 * otherwise). A missing file means no consumers.
 * @throws {EventBusError} `VALIDATION_FAILED` for a malformed file.
 */
export function readLocalConsumers(file: string): LocalConsumersFile["consumers"] {
  if (!existsSync(file)) return [];
  return parseWith(consumersSchema, JSON.parse(readFileSync(file, "utf8")), `Invalid ${file}`).consumers;
}

/**
 * `npm run dev`'s stand-in for Lambda event source mappings: for each configured consumer, waits for its
 * subscription to exist, loads the handler module (the same one deployed as a Lambda) and polls the
 * subscription's queue with partial-batch-failure semantics.
 */
export function startLocalConsumers(options: {
  sql: Sql;
  sqs: SQSClient;
  root: string;
  consumers: LocalConsumersFile["consumers"];
  region: string;
  log: (message: string) => void;
}): { stop(): Promise<void> } {
  const stops: Array<() => Promise<void>> = [];
  let stopped = false;

  async function start(consumer: LocalConsumersFile["consumers"][number]) {
    const [path, exportName = "handler"] = consumer.handler.split("#") as [string, string?];
    const module = (await import(pathToFileURL(resolve(options.root, path)).href)) as Record<string, unknown>;
    const handler = module[exportName];
    if (typeof handler !== "function") throw new Error(`${consumer.handler} does not export a function`);
    let waiting = false;
    while (!stopped) {
      const subscription = await findSubscription(options.sql, consumer.subscription);
      if (subscription) {
        const poller = startSqsPoller({
          sqs: options.sqs,
          queueUrl: subscription.queueUrl,
          handler: handler as SqsLambda,
          batchSize: consumer.batchSize,
          concurrency: consumer.concurrency,
          region: options.region,
          onError: (error) => options.log(`consumer ${consumer.handler}: ${(error as Error).message}`),
        });
        stops.push(poller.stop);
        options.log(`consumer ${consumer.handler} <- subscription ${consumer.subscription}`);
        return;
      }
      if (!waiting)
        options.log(`consumer ${consumer.handler} waits for subscription ${consumer.subscription}`);
      waiting = true;
      await new Promise((r) => setTimeout(r, 2_000));
    }
  }

  for (const consumer of options.consumers) {
    start(consumer).catch((error) =>
      options.log(`consumer ${consumer.handler} failed: ${(error as Error).message}`),
    );
  }
  return {
    async stop() {
      stopped = true;
      await Promise.all(stops.map((stop) => stop()));
    },
  };
}
