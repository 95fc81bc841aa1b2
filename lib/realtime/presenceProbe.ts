import type { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import pLimit from "p-limit";
import { deleteConnection } from "./deleteConnection.ts";
import type { PresenceMember } from "./frames.ts";
import { isConnectionGone } from "./getConnection.ts";
import { type PresenceCleanupDeps, removePresence } from "./leavePresence.ts";
import { listPresence } from "./listPresence.ts";
import type { RealtimeTable } from "./table.ts";

/**
 * How often one execution environment probes a topic's members. A probe is a `GetConnection` per member
 * (up to `MAX_PRESENCE_MEMBERS`): at this interval a topic costs at most ~20 calls a second per
 * environment, however often its list is read or a full room is knocked on.
 */
export const PRESENCE_PROBE_INTERVAL_MS = 5_000;
const PROBE_CONCURRENCY = 10;
/** Topics remembered for the interval; beyond this many the oldest are forgotten (and may probe early). */
const MAX_REMEMBERED_TOPICS = 10_000;

const lastProbes = new Map<string, number>();

/** Whether `topic` may be probed now; if so, records that it is. */
function takeProbeTurn(table: RealtimeTable, topic: string, nowMs: number): boolean {
  const key = `${table.tableName}\u0000${topic}`;
  const last = lastProbes.get(key);
  if (last !== undefined && nowMs - last < PRESENCE_PROBE_INTERVAL_MS) return false;
  lastProbes.delete(key);
  lastProbes.set(key, nowMs);
  if (lastProbes.size > MAX_REMEMBERED_TOPICS) {
    lastProbes.delete(lastProbes.keys().next().value as string);
  }
  return true;
}

/**
 * Asks API Gateway whether each of a topic's members is still connected, and removes those it reports
 * gone: `$disconnect` is best-effort, and a member whose connection vanished without it would otherwise
 * stay listed, and hold a place in a full room, until its item's TTL (up to the 2-hour connection limit).
 * A gone member leaves the topic as on `presence.leave` (the others are told), then the rest of its
 * connection is removed as on `$disconnect`. At most one probe per topic per `PRESENCE_PROBE_INTERVAL_MS`
 * in this environment; `undefined` when it is not this probe's turn. A member that cannot be asked about
 * (throttling, 5xx) is kept.
 *
 * @returns the connection ids found gone and removed.
 */
export async function probePresenceMembers(
  deps: PresenceCleanupDeps & { api: ApiGatewayManagementApiClient },
  topic: string,
  connectionIds: readonly string[],
  nowMs = Date.now(),
): Promise<Set<string> | undefined> {
  if (connectionIds.length === 0 || !takeProbeTurn(deps.table, topic, nowMs)) return undefined;
  const limit = pLimit(PROBE_CONCURRENCY);
  const gone = new Set<string>();
  await Promise.all(
    connectionIds.map((connectionId) =>
      limit(async () => {
        try {
          if (!(await isConnectionGone(deps.api, connectionId))) return;
          gone.add(connectionId);
          // This topic's entry first: the connection item may no longer name it (a cleanup cut short).
          await removePresence(deps, connectionId, topic);
          await deleteConnection(deps.table, connectionId, deps);
        } catch (error) {
          deps.onError?.(error, connectionId);
        }
      }),
    ),
  );
  return gone;
}

/**
 * The members present on `topic` (see `listPresence`), without those API Gateway reports gone when it is
 * this environment's turn to probe the topic (see `probePresenceMembers`); those are removed. Without
 * `api`, the list as stored.
 */
export async function listLivePresence(deps: PresenceCleanupDeps, topic: string): Promise<PresenceMember[]> {
  const members = await listPresence(deps.table, topic);
  const { api } = deps;
  if (!api) return members;
  const gone = await probePresenceMembers(
    { ...deps, api },
    topic,
    members.map((member) => member.connectionId),
  );
  return gone?.size ? members.filter((member) => !gone.has(member.connectionId)) : members;
}
