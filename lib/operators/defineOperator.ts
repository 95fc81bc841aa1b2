import type { TransactionSql } from "postgres";
import type { EventBusCloudEvent } from "../events/types.ts";
import { type EventPattern, validateEventPattern } from "../subscriptions/eventPattern.ts";

/**
 * Code that keeps derived tables up to date from events (EventStreamex's operators). The listener runs it
 * with its own checkpoint, in the store's Postgres: `handle` gets each matching event, in position order,
 * and a transaction in which the operator's writes and the checkpoint commit together. An event is thus
 * applied at least once and its database writes exactly once.
 */
export interface Operator {
  /** `^[a-z][a-z0-9_]{0,62}$`: the operator's checkpoint and its routes are named after it. */
  name: string;
  /** An EventBridge pattern over the CloudEvent; events that do not match advance the checkpoint only. */
  filter?: EventPattern;
  /** Applies one event. Throwing rolls back its writes; it is retried with back-off, then parked. */
  handle(event: EventBusCloudEvent, tx: TransactionSql): Promise<void>;
  /**
   * Called in the replay's transaction before events are applied again from `from` (0: the beginning):
   * typically clears the derived table, so that a replay rebuilds it.
   */
  reset?(tx: TransactionSql, from: number): Promise<void>;
  /** Attempts before an event is parked (default 5). */
  maxAttempts?: number;
}

const NAME = /^[a-z][a-z0-9_]{0,62}$/;

/**
 * Checks an operator's definition when it is loaded, so a bad name or filter stops the listener's start
 * with a clear message instead of failing on the first event.
 *
 * @example
 * ```ts
 * export default [
 *   defineOperator({
 *     name: "order_totals",
 *     filter: { type: [{ prefix: "orders." }] },
 *     async handle(event, tx) {
 *       await tx`insert into order_totals ...`;
 *     },
 *     reset: (tx) => tx`truncate order_totals`.then(() => {}),
 *   }),
 * ];
 * ```
 */
export function defineOperator(operator: Operator): Operator {
  if (!NAME.test(operator.name)) {
    throw new Error(`Operator name '${operator.name}' must match ${NAME}.`);
  }
  if (operator.filter !== undefined) validateEventPattern(operator.filter);
  if (
    operator.maxAttempts !== undefined &&
    !(Number.isInteger(operator.maxAttempts) && operator.maxAttempts >= 1)
  ) {
    throw new Error(`Operator '${operator.name}': maxAttempts must be an integer >= 1.`);
  }
  return operator;
}

/** The operators a module exports: `export default [...]` or `export const operators = [...]`. */
export function operatorsOf(module: { default?: unknown; operators?: unknown }): Operator[] {
  const list = module.operators ?? module.default;
  if (!Array.isArray(list))
    throw new Error("An operators module exports an array as `default` or `operators`.");
  const operators = list.map((operator) => defineOperator(operator as Operator));
  const names = new Set(operators.map((operator) => operator.name));
  if (names.size !== operators.length) throw new Error("Operator names must be unique.");
  return operators;
}
