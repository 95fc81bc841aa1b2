import type { PendingQuery, Row, Sql } from "postgres";

/**
 * Ownership of a subscription is a session advisory lock `(OWNER_LOCK_NAMESPACE, lock id)` held by one
 * listener on a dedicated connection whose `application_name` names that listener. The lock dies with the
 * session, so a crashed listener's subscriptions are free for the others to claim at once.
 */
export const OWNER_LOCK_NAMESPACE = 4243;

/** `application_name` of a listener's lock connection, so `pg_stat_activity` can say who owns what. */
export const ownerApplicationName = (listenerId: string) => `eventbus-listener:${listenerId}`.slice(0, 63);

/**
 * The SQL condition that session `lockPid` holds the ownership lock of the checkpoint row aliased `c`
 * (reads `pg_locks`: a few hundred microseconds of server CPU).
 */
export const holdsOwnerLock = (sql: Sql, lockPid: number): PendingQuery<Row[]> =>
  sql`exists (select 1 from pg_locks l
    where l.locktype = 'advisory' and l.granted and l.pid = ${lockPid} and l.objsubid = 2
      and l.classid::int8 = ${OWNER_LOCK_NAMESPACE} and l.objid::int8 = c.lock_id)`;

/**
 * The SQL expression naming the listener that owns the checkpoint row aliased `c` (its lock connection's
 * `application_name`, else `pid <n>`), or NULL when none does (reads `pg_locks` and `pg_stat_activity`).
 */
export const checkpointOwner = (sql: Sql): PendingQuery<Row[]> =>
  sql`(select coalesce(nullif(a.application_name, ''), 'pid ' || l.pid)
    from pg_locks l left join pg_stat_activity a on a.pid = l.pid
    where l.locktype = 'advisory' and l.granted and l.objsubid = 2
      and l.database = (select oid from pg_database where datname = current_database())
      and l.classid::int8 = ${OWNER_LOCK_NAMESPACE} and l.objid::int8 = c.lock_id
    limit 1)`;
