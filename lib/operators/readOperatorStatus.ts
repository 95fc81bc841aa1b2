import type { Sql } from "postgres";
import { readHeadPosition } from "../events/readAll.ts";

/** What `GET /operators/{name}` shows. */
export interface OperatorStatus {
  name: string;
  /** Position of the last event applied, passed over (not matching) or parked. */
  checkpoint: number;
  head: number;
  /** Positions between the checkpoint and the head. */
  lag: number;
  /** Failed attempts on the current event (0 when healthy). */
  attempts: number;
  lastError: string | null;
  lastErrorAt: string | null;
  parked: number;
  /** The events given up on, newest first (up to 20). */
  recentParked: Array<{
    position: number;
    eventId: string;
    error: string;
    attempts: number;
    parkedAt: string;
  }>;
  /** A replay asked for and not started yet: its first position. */
  replayFrom: number | null;
  owner: string | null;
  updatedAt: string;
}

/** Every operator's status, or one's by name. Operators appear once a listener has loaded them. */
export async function readOperatorStatuses(sql: Sql, name?: string): Promise<OperatorStatus[]> {
  const [rows, head] = await Promise.all([
    sql<Array<Omit<OperatorStatus, "head" | "lag" | "recentParked">>>`
      select name, checkpoint, attempts, last_error as "lastError", last_error_at as "lastErrorAt", parked,
             replay_from as "replayFrom", owner, updated_at as "updatedAt"
      from eventbus.operators
      where ${name === undefined ? sql`true` : sql`name = ${name}`}
      order by name`,
    readHeadPosition(sql),
  ]);
  const parked = rows.length
    ? await sql<Array<{ name: string } & OperatorStatus["recentParked"][number]>>`
        select name, position, event_id as "eventId", error, attempts, parked_at as "parkedAt"
        from (select *, row_number() over (partition by name order by position desc) as n
              from eventbus.operator_parked where name = any(${rows.map((row) => row.name)})) p
        where n <= 20 order by name, position desc`
    : [];
  return rows.map((row) => ({
    ...row,
    head,
    lag: Math.max(0, head - row.checkpoint),
    lastErrorAt: row.lastErrorAt ? new Date(row.lastErrorAt).toISOString() : null,
    updatedAt: new Date(row.updatedAt).toISOString(),
    recentParked: parked
      .filter((entry) => entry.name === row.name)
      .map(({ name: _name, parkedAt, ...entry }) => ({
        ...entry,
        parkedAt: new Date(parkedAt).toISOString(),
      })),
  }));
}
