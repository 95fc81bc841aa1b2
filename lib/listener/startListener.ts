import { hostname } from "node:os";
import type { SQSClient } from "@aws-sdk/client-sqs";
import pLimit from "p-limit";
import type { ReservedSql, Sql } from "postgres";
import { ensureCheckpoint } from "../subscriptions/ensureCheckpoint.ts";
import { listSubscriptions } from "../subscriptions/listSubscriptions.ts";
import { OWNER_LOCK_NAMESPACE, ownerApplicationName } from "../subscriptions/ownership.ts";
import { type Forwarder, type ForwardTarget, startForwarder } from "./forwarder.ts";
import { type ListenerLog, silentLog } from "./listenerLog.ts";

export interface ListenerOptions {
  /** A pool; create it with `listenerSqlOptions` so a dropped LISTEN connection comes back quickly. */
  sql: Sql;
  sqs: SQSClient;
  /** CloudEvents `source` of the events it forwards. */
  source: string;
  /** Shown as the owner of the subscriptions it forwards. Default `<hostname>:<pid>`. */
  listenerId?: string;
  /** When set, every new event is also forwarded (packed, unfiltered) to this realtime fan-out queue. */
  realtimeQueueUrl?: string;
  /** Safety-net catch-up for lost notifications. Default 5 s. */
  pollIntervalMs?: number;
  /** How often it looks for new, deleted and orphaned subscriptions (takeover latency). Default 1 s. */
  claimIntervalMs?: number;
  /** Events read per page. Default 500. */
  pageSize?: number;
  /** SendMessageBatch calls in flight across all subscriptions. Default 16. */
  sendConcurrency?: number;
  /** Pause a subscription while its queue holds more visible messages than this; 0 disables. */
  maxQueueDepth?: number;
  log?: ListenerLog;
}

export interface Listener {
  listenerId: string;
  /** Names of the targets this listener currently forwards. */
  owned(): string[];
  /** Stops forwarding, releases every subscription for other listeners, and returns once idle. */
  stop(): Promise<void>;
}

export const REALTIME_CHECKPOINT = "$realtime";
/** Below the identity range of `eventbus.subscriptions.id` (which starts at 1000). */
const REALTIME_LOCK_ID = 1;
const CHANNEL = "eventbus_events";

/**
 * postgres.js options for the listener's pool: its default reconnect back-off grows to seconds, during
 * which no NOTIFY arrives; the listener wants its LISTEN connection back within ~100 ms.
 */
export const listenerSqlOptions = {
  backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 2),
};

/**
 * Starts the listener: it claims unowned subscriptions (a session advisory lock each, on one dedicated
 * connection), and forwards each one's matching events into its SQS queue. NOTIFY only wakes it; it
 * always reads from the checkpoint, after every (re)LISTEN and on a slow poll, so a lost notification
 * delays delivery but never loses it. Several listeners may run; a subscription whose owner dies is
 * claimed by another within `claimIntervalMs`.
 *
 * @example
 * ```ts
 * const listener = await startListener({ sql, sqs, source: "urn:eventbus" });
 * process.on("SIGTERM", () => listener.stop());
 * ```
 */
export async function startListener(options: ListenerOptions): Promise<Listener> {
  const { sql, sqs } = options;
  const log = options.log ?? silentLog;
  const listenerId = options.listenerId ?? `${hostname()}:${process.pid}`;
  const claimIntervalMs = options.claimIntervalMs ?? 1_000;
  const pollIntervalMs = options.pollIntervalMs ?? 5_000;
  const limit = pLimit(options.sendConcurrency ?? 16);
  const forwarders = new Map<number, Forwarder>();
  const gone = new Set<number>();
  let lock: { sql: ReservedSql; pid: number } | undefined;
  let stopped = false;

  async function connectLock(): Promise<{ sql: ReservedSql; pid: number }> {
    const reserved = await sql.reserve();
    const [row] = await reserved<[{ pid: number }]>`
      select pg_backend_pid() as pid, set_config('application_name', ${ownerApplicationName(listenerId)}, false)`;
    return { sql: reserved, pid: row!.pid };
  }

  async function dropForwarder(lockId: number, unlock: boolean) {
    const forwarder = forwarders.get(lockId);
    forwarders.delete(lockId);
    gone.delete(lockId);
    if (!forwarder) return;
    await forwarder.stop();
    if (unlock && lock) await lock.sql`select pg_advisory_unlock(${OWNER_LOCK_NAMESPACE}, ${lockId})`;
    log("info", "released", { target: forwarder.target.name });
  }

  /** The lock session is gone or was replaced (postgres.js reconnects silently): every lock is lost. */
  async function dropAll() {
    await Promise.all([...forwarders.keys()].map((id) => dropForwarder(id, false)));
    try {
      lock?.sql.release();
    } catch {
      // a dead connection cannot be released cleanly; the pool replaces it
    }
    lock = undefined;
  }

  async function targets(): Promise<ForwardTarget[]> {
    const list: ForwardTarget[] = (await listSubscriptions(sql)).map((s) => ({
      name: s.name,
      lockId: s.id,
      queueUrl: s.queueUrl,
      kind: "subscription",
      fifo: s.ordering === "stream",
      pattern: s.filter,
    }));
    if (options.realtimeQueueUrl) {
      list.push({
        name: REALTIME_CHECKPOINT,
        lockId: REALTIME_LOCK_ID,
        queueUrl: options.realtimeQueueUrl,
        kind: "realtime",
        fifo: false,
        pattern: null,
      });
    }
    return list;
  }

  async function claim() {
    if (lock) {
      const alive = await lock.sql<[{ pid: number }]>`select pg_backend_pid() as pid`.then(
        ([row]) => row!.pid === lock!.pid,
        () => false,
      );
      if (!alive) {
        log("warn", "lock connection lost; releasing every subscription", { listenerId });
        await dropAll();
      }
    }
    lock ??= await connectLock();
    const current = lock;
    for (const id of gone) await dropForwarder(id, true);
    const wanted = await targets();
    const wantedIds = new Set(wanted.map((t) => t.lockId));
    for (const id of forwarders.keys()) if (!wantedIds.has(id)) await dropForwarder(id, true);
    for (const target of wanted) {
      if (stopped || forwarders.has(target.lockId)) continue;
      const [row] = await current.sql<[{ locked: boolean }]>`
        select pg_try_advisory_lock(${OWNER_LOCK_NAMESPACE}, ${target.lockId}) as locked`;
      if (!row!.locked) continue;
      if (target.kind === "realtime") await ensureCheckpoint(sql, target.name, target.lockId);
      log("info", "claimed", { target: target.name, listenerId });
      const forwarder = startForwarder(target, {
        sql,
        sqs,
        source: options.source,
        lockPid: current.pid,
        limit,
        pageSize: options.pageSize ?? 500,
        maxQueueDepth: options.maxQueueDepth ?? 0,
        log,
        onGone: () => {
          gone.add(target.lockId);
          wakeClaim?.();
        },
      });
      forwarders.set(target.lockId, forwarder);
    }
  }

  let wakeClaim: (() => void) | undefined;
  async function claimLoop() {
    while (!stopped) {
      try {
        await claim();
      } catch (error) {
        log("error", "claiming subscriptions failed", { error: (error as Error).message });
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, claimIntervalMs);
        wakeClaim = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wakeClaim = undefined;
    }
  }

  const kickAll = (position?: number) => {
    for (const forwarder of forwarders.values()) forwarder.kick(position);
  };

  const subscription = await sql.listen(
    CHANNEL,
    (payload) => kickAll(Number(payload) || undefined),
    () => {
      // Called after every (re)LISTEN: notifications sent while disconnected are lost, so catch up.
      log("info", "listening", { channel: CHANNEL });
      kickAll();
    },
  );
  await claim().catch((error) =>
    log("error", "claiming subscriptions failed", { error: (error as Error).message }),
  );
  const claiming = claimLoop();
  const poll = setInterval(() => kickAll(), pollIntervalMs);

  return {
    listenerId,
    owned: () => [...forwarders.values()].map((f) => f.target.name),
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(poll);
      wakeClaim?.();
      await claiming;
      await subscription.unlisten().catch(() => {});
      await Promise.all([...forwarders.keys()].map((id) => dropForwarder(id, false)));
      if (lock) {
        await lock.sql`select pg_advisory_unlock_all(), set_config('application_name', '', false)`.catch(
          () => {},
        );
        lock.sql.release();
        lock = undefined;
      }
    },
  };
}
