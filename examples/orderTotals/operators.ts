/**
 * An operator that keeps `order_totals` (orders and money per customer) up to date from the change
 * capture of `orders`. Run it with the listener: `EVENTBUS_OPERATORS_MODULE=examples/orderTotals/operators.ts`.
 * The capture needs `"replicaIdentityFull": true`, so that updates and deletes carry the old row.
 */
import type { TransactionSql } from "postgres";
import { defineOperator } from "../../lib/operators/defineOperator.ts";

interface OrderRow {
  customer: string;
  total: number | string;
}

interface OrderChange {
  new: OrderRow | null;
  old: OrderRow | null;
}

/** Adds `orders` and `total` to a customer's line (negative to remove), dropping lines that reach zero. */
async function add(tx: TransactionSql, row: OrderRow, sign: 1 | -1): Promise<void> {
  // Totals arrive as JSON numbers, or as exact decimal text when a double cannot hold them.
  const total = String(row.total);
  await tx`
    insert into order_totals (customer, orders, total)
    values (${row.customer}, ${sign}, ${sign} * ${total}::numeric)
    on conflict (customer) do update
    set orders = order_totals.orders + excluded.orders, total = order_totals.total + excluded.total`;
  await tx`delete from order_totals where customer = ${row.customer} and orders = 0`;
}

export default [
  defineOperator({
    name: "order_totals",
    filter: { type: ["orders.inserted", "orders.updated", "orders.deleted"] },
    async handle(event, tx) {
      const change = event.data as OrderChange;
      if (change.old && event.type !== "orders.inserted") await add(tx, change.old, -1);
      if (change.new && event.type !== "orders.deleted") await add(tx, change.new, 1);
    },
    async reset(tx) {
      await tx`truncate order_totals`;
    },
  }),
];
