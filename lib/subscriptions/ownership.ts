/**
 * Ownership of a subscription is a session advisory lock `(OWNER_LOCK_NAMESPACE, lock id)` held by one
 * listener on a dedicated connection whose `application_name` names that listener. The lock dies with the
 * session, so a crashed listener's subscriptions are free for the others to claim at once.
 */
export const OWNER_LOCK_NAMESPACE = 4243;

/** `application_name` of a listener's lock connection, so `pg_stat_activity` can say who owns what. */
export const ownerApplicationName = (listenerId: string) => `eventbus-listener:${listenerId}`.slice(0, 63);
