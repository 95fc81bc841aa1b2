import { hostname } from "node:os";
import type { SQSClient } from "@aws-sdk/client-sqs";
import pLimit from "p-limit";
import postgres, { type Options, type Sql } from "postgres";
import { coalescedRuns } from "../coalescedRuns.ts";
import { probeHead } from "../events/readSafeHead.ts";
import { EVENTS_CHANNEL } from "../events/wakeListeners.ts";
import { forgetStaleTopics } from "../realtime/listenedTopics.ts";
import { ensureCheckpoint } from "../subscriptions/ensureCheckpoint.ts";
import { listSubscriptions } from "../subscriptions/listSubscriptions.ts";
import { OWNER_LOCK_NAMESPACE, ownerApplicationName } from "../subscriptions/ownership.ts";
import type { SegmentSink } from "../tracing/xrayDaemon.ts";
import { type Forwarder, type ForwardTarget, startForwarder } from "./forwarder.ts";
import { type ListenerLog, silentLog } from "./listenerLog.ts";
import { REALTIME_CHECKPOINT } from "./realtimeForwarding.ts";

export interface ListenerOptions {
  /** A pool; create it with `listenerSqlOptions` so a dropped LISTEN connection comes back quickly. */
  sql: Sql;
  sqs: SQSClient;
  /** CloudEvents `source` of the events it forwards. */
  source: string;
  /** Shown as the owner of the subscriptions it forwards. Default `<hostname>:<pid>`. */
  listenerId?: string;
  /**
   * When set, every new event that some WebSocket connection may receive live (its topic is marked as
   * listened to: `eventsWithAudience`) is also forwarded, packed, to this realtime fan-out queue.
   */
  realtimeQueueUrl?: string;
  /**
   * X-Ray: a segment per sampled traced event forwarded to a subscription, the consumer's parent (see
   * `startForwardSpans`). `xrayDaemonSink(AWS_XRAY_DAEMON_ADDRESS)` on ECS with the daemon sidecar.
   */
  tracing?: SegmentSink;
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
  /**
   * How stale a queue depth reading may be (see the forwarder's `depthLagMs`). Default 60 s, what AWS
   * documents for SQS; 0 trusts every reading, for a queue service whose counts are exact.
   */
  depthLagMs?: number;
  log?: ListenerLog;
}

export interface Listener {
  listenerId: string;
  /** Names of the targets this listener currently forwards. */
  owned(): string[];
  /** Stops forwarding, releases every subscription for other listeners, and returns once idle. */
  stop(): Promise<void>;
}

interface LockSession {
  sql: Sql;
  /** The backend holding the locks; a different pid later means they are gone. */
  pid: number;
}

/** The shortest time between two wake-ups of the listener (see `kickAll`). */
const MIN_WAKE_INTERVAL_MS = 10;

/** How often the listener forgets topics no connection can still be subscribed to. */
const FORGET_TOPICS_INTERVAL_MS = 10 * 60 * 1000;
/** Below the identity range of `eventbus.subscriptions.id` (which starts at 1000). */
const REALTIME_LOCK_ID = 1;
/** A lock-connection query slower than this means the connection is gone (see `onLock`). */
const LOCK_QUERY_TIMEOUT_MS = 3_000;

/**
 * SQS client options for the listener: it skips the SDK's MD5 check of every message it sends (the
 * transport is TLS, and the check is a fair share of the listener's CPU per message when it forwards
 * thousands per second).
 */
export const listenerSqsOptions = { md5: false } as const;

/**
 * postgres.js options for the listener's pool:
 * - its default reconnect back-off grows to seconds, during which no NOTIFY arrives; the listener wants
 *   its LISTEN connection back within ~100 ms;
 * - its commits (checkpoints, parked events, head probes) do not wait for the WAL flush. A checkpoint
 *   lost in a database crash only repeats what was sent (at-least-once already allows that), WAL order
 *   keeps a parked event durable before the checkpoint that passed it, and appenders no longer queue
 *   behind the listener's flushes.
 */
export const listenerSqlOptions = {
  backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 2),
  connection: { synchronous_commit: "off" },
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
  let lock: LockSession | undefined;
  let stopped = false;

  /**
   * The lock connection: a one-connection client of its own, never recycled. (Not `sql.reserve()`: a
   * reserved postgres.js connection whose socket dies leaves its queries pending forever, or throws from a
   * timer.) Built from the pool's own parsed options, as postgres.js builds its LISTEN connection.
   */
  async function connectLock(): Promise<LockSession> {
    const lockSql = postgres({
      ...(sql.options as unknown as Options<Record<string, never>>),
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      connection: { ...sql.options.connection, application_name: ownerApplicationName(listenerId) },
    }) as unknown as Sql;
    try {
      const [row] = await lockSql<[{ pid: number }]>`select pg_backend_pid() as pid`;
      return { sql: lockSql, pid: row!.pid };
    } catch (error) {
      await lockSql.end({ timeout: 0 });
      throw error;
    }
  }

  /**
   * Runs a query on the lock connection with a deadline. A failed or overrunning query counts as a lost
   * connection: every forwarder stops, and the old session is terminated through the pool in case it is
   * merely slow, so that its locks cannot outlive our giving them up.
   */
  async function onLock<T>(query: (lockSql: Sql) => Promise<T>): Promise<T> {
    const current = lock;
    if (!current) throw new Error("no lock connection");
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        query(current.sql),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("lock connection timed out")), LOCK_QUERY_TIMEOUT_MS);
        }),
      ]);
    } catch (error) {
      await loseLock(current, (error as Error).message);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  async function loseLock(lost: LockSession, reason: string) {
    if (lock !== lost) return;
    lock = undefined;
    // While stopping, a closed connection is expected (Ctrl-C also reaches an embedded Postgres).
    log(stopped ? "debug" : "warn", "lock connection lost; releasing every subscription", {
      listenerId,
      reason,
    });
    await Promise.all([...forwarders.keys()].map((id) => dropForwarder(id, false)));
    await sql`select pg_terminate_backend(${lost.pid})`.catch(() => {});
    await lost.sql.end({ timeout: 0 }).catch(() => {});
  }

  async function dropForwarder(lockId: number, unlock: boolean) {
    const forwarder = forwarders.get(lockId);
    forwarders.delete(lockId);
    gone.delete(lockId);
    if (!forwarder) return;
    await forwarder.stop();
    if (unlock && lock) {
      await onLock((lockSql) => lockSql`select pg_advisory_unlock(${OWNER_LOCK_NAMESPACE}, ${lockId})`).catch(
        () => {},
      );
    }
    log("info", "released", { target: forwarder.target.name });
  }

  async function targets(): Promise<ForwardTarget[]> {
    const list: ForwardTarget[] = (await listSubscriptions(sql)).map((s) => ({
      name: s.name,
      lockId: s.id,
      queueUrl: s.queueUrl,
      kind: "subscription",
      fifo: s.ordering === "stream",
      pattern: s.filter,
      delivery: { format: s.format, inputTransformer: s.inputTransformer },
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
      const current = lock;
      // postgres.js reconnects a dropped connection behind our back: a new pid holds none of our locks.
      const pid = await onLock((lockSql) => lockSql<[{ pid: number }]>`select pg_backend_pid() as pid`).then(
        ([row]) => row!.pid,
        () => undefined,
      );
      if (pid !== current.pid) await loseLock(current, "the lock session changed");
    }
    lock ??= await connectLock();
    const current = lock;
    for (const id of gone) await dropForwarder(id, true);
    const wanted = await targets();
    const wantedIds = new Set(wanted.map((t) => t.lockId));
    let claimed = false;
    for (const id of forwarders.keys()) if (!wantedIds.has(id)) await dropForwarder(id, true);
    for (const target of wanted) {
      if (stopped || forwarders.has(target.lockId)) continue;
      const [row] = await onLock(
        (lockSql) => lockSql<[{ locked: boolean }]>`
          select pg_try_advisory_lock(${OWNER_LOCK_NAMESPACE}, ${target.lockId}) as locked`,
      );
      if (!row!.locked) continue;
      if (target.kind === "realtime") {
        await probeHead(sql);
        await ensureCheckpoint(sql, target.name, target.lockId);
      }
      log("info", "claimed", { target: target.name, listenerId });
      const forwarder = startForwarder(target, {
        sql,
        sqs,
        source: options.source,
        lockPid: current.pid,
        limit,
        pageSize: options.pageSize ?? 500,
        maxQueueDepth: options.maxQueueDepth ?? 0,
        ...(options.depthLagMs === undefined ? {} : { depthLagMs: options.depthLagMs }),
        ...(options.tracing ? { tracing: options.tracing } : {}),
        log,
        onPageRead,
        onGone: () => {
          gone.add(target.lockId);
          wakeClaim?.();
        },
      });
      forwarders.set(target.lockId, forwarder);
      claimed = true;
    }
    // A new forwarder reads up to the safe head at once; a fresh probe lets that include the latest events.
    if (claimed) kickAll();
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

  /**
   * Forwarders read up to the gap-safe head, which moves only with a new head probe; one probe, shared by
   * every forwarder and every wake-up that arrived while the last one was in flight, precedes each kick.
   * When transactions that began before the probe are still finishing, a page reads a head below the probe
   * and the head reaches it a moment later. Those transactions are nearly always appends, whose own
   * wake-up follows their commit within milliseconds and reads past the probe anyway; so `settle` first
   * gives them that time, and only if no wake-up came does it read the safe head and kick again when it
   * reaches the probe (for up to ~320 ms; after that the poll takes over), so the last events of a burst
   * wait for neither the next append nor the poll. On a busy bus this saves a safe-head read, a page and a
   * checkpoint write per wake-up and forwarder.
   */
  let probed = 0;
  const probe = coalescedRuns(() =>
    probeHead(sql).then(
      (head) => {
        probed = Math.max(probed, head);
      },
      (error) => log("warn", "head probe failed", { error: (error as Error).message }),
    ),
  );
  const readSafe = () =>
    sql<[{ head: number }]>`select eventbus.safe_head() as head`.then(([row]) => row!.head);
  const settle = coalescedRuns(async () => {
    const target = probed;
    for (const delay of [MIN_WAKE_INTERVAL_MS, 10, 20, 40, 80, 160]) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      // Later wake-ups read every forwarder past the probe: nothing is left to settle.
      if (stopped || [...forwarders.values()].every((f) => f.covers(target))) return;
      if ((await readSafe()) >= target) break;
    }
    for (const forwarder of forwarders.values()) forwarder.kick();
  });
  const kickNow = (position?: number) => {
    // A wake-up every forwarder has already read past needs no probe and no page.
    if (position !== undefined && position > 0 && [...forwarders.values()].every((f) => f.covers(position)))
      return;
    void probe().then(() => {
      for (const forwarder of forwarders.values()) forwarder.kick(position);
    });
  };
  /**
   * Wake-ups closer together than {@link MIN_WAKE_INTERVAL_MS} are taken as one, at the end of the interval:
   * a lone append is read at once, while a busy bus costs the listener one probe and one page per forwarder
   * per interval, not per NOTIFY (every appending process sends its own).
   */
  let lastWake = Number.NEGATIVE_INFINITY;
  let deferred: { timer: NodeJS.Timeout; position: number | undefined } | undefined;
  const kickAll = (position?: number) => {
    if (deferred) {
      deferred.position =
        deferred.position === undefined || position === undefined
          ? undefined
          : Math.max(deferred.position, position);
      return;
    }
    const wait = lastWake + MIN_WAKE_INTERVAL_MS - performance.now();
    if (wait <= 0) {
      lastWake = performance.now();
      kickNow(position);
      return;
    }
    deferred = {
      position,
      timer: setTimeout(() => {
        const { position: latest } = deferred!;
        deferred = undefined;
        lastWake = performance.now();
        kickNow(latest);
      }, wait),
    };
  };
  /** A page read below the last probe: transactions older than it are still finishing (see above). */
  const onPageRead = (head: number) => {
    if (head < probed) void settle();
  };

  const subscription = await sql.listen(
    EVENTS_CHANNEL,
    (payload) => kickAll(Number(payload) || undefined),
    () => {
      // Called after every (re)LISTEN: notifications sent while disconnected are lost, so catch up.
      log("info", "listening", { channel: EVENTS_CHANNEL });
      kickAll();
    },
  );
  await claim().catch((error) =>
    log("error", "claiming subscriptions failed", { error: (error as Error).message }),
  );
  const claiming = claimLoop();
  const poll = setInterval(() => kickAll(), pollIntervalMs);
  // Topics nobody can still be subscribed to stop costing fan-out messages (see listenedTopics.ts).
  const forgetting = options.realtimeQueueUrl
    ? setInterval(() => {
        forgetStaleTopics(sql).catch((error) =>
          log("warn", "forgetting stale listened topics failed", { error: (error as Error).message }),
        );
      }, FORGET_TOPICS_INTERVAL_MS)
    : undefined;
  forgetting?.unref();

  return {
    listenerId,
    owned: () => [...forwarders.values()].map((f) => f.target.name),
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(poll);
      clearInterval(forgetting);
      clearTimeout(deferred?.timer);
      wakeClaim?.();
      await claiming;
      await subscription.unlisten().catch(() => {});
      await Promise.all([...forwarders.keys()].map((id) => dropForwarder(id, false)));
      if (lock) {
        const current = lock;
        // Ending the session releases its locks; unlocking first just makes that explicit and immediate.
        await onLock((lockSql) => lockSql`select pg_advisory_unlock_all()`).catch(() => {});
        await current.sql.end({ timeout: 1 });
        lock = undefined;
      }
    },
  };
}
