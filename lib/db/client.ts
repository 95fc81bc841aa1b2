import postgres, { type Options, type Sql } from "postgres";

export type { Sql, TransactionSql } from "postgres";

/**
 * Creates a postgres.js client with the settings the bus relies on: bigint columns come back as JS numbers
 * (positions and versions stay far below 2^53), and notices are silenced.
 */
export function createSql(url: string, options: Options<Record<string, never>> = {}): Sql {
  return postgres(url, {
    max: 10,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    types: {
      bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) },
    },
    ...options,
  }) as unknown as Sql;
}
