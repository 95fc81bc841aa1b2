import { setMaxListeners } from "node:events";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { LimitFunction } from "p-limit";
import type { Sql } from "postgres";
import { probeHead } from "../events/readSafeHead.ts";
import { type EventPattern, matchesEventPattern } from "../subscriptions/eventPattern.ts";
import type { DeliveryFormat, InputTransformer } from "../subscriptions/inputTransform.ts";
import { parkEvents } from "../subscriptions/parkEvents.ts";
import { patternToSql } from "../subscriptions/patternToSql.ts";
import { type ForwardEvent, readForwardPage } from "../subscriptions/readForwardPage.ts";
import { storeCheckpoint } from "../subscriptions/storeCheckpoint.ts";
import { type QueueDepth, readQueueDepth } from "../subscriptions/subscriptionQueues.ts";
import type { SegmentSink } from "../tracing/xrayDaemon.ts";
import { cloudEventJson } from "./cloudEventJson.ts";
import { fanoutMessages, type Outgoing, subscriptionBody, subscriptionMessages } from "./eventMessages.ts";
import { trackForwardingFailures } from "./forwardingFailures.ts";
import { startForwardSpans } from "./forwardSpans.ts";
import type { ListenerLog } from "./listenerLog.ts";
import { hasLiveAudience, resumeWhenListened } from "./realtimeAudience.ts";
import { type RefusedMessage, type SendOptions, sendMessages } from "./sendMessages.ts";

/** What one forwarder moves events into. */
export interface ForwardTarget {
  /** The checkpoint's name: the subscription name, or an internal name such as `$realtime`. */
  name: string;
  lockId: number;
  queueUrl: string;
  /** `subscription`: one message per matching event; `realtime`: packed `FanoutMessage`s, no filter. */
  kind: "subscription" | "realtime";
  fifo: boolean;
  pattern: EventPattern | null;
  /** A subscription's `format` and `inputTransformer`: how its message bodies are built. */
  delivery?: { format?: DeliveryFormat; inputTransformer?: InputTransformer | null };
}

export interface ForwarderDeps {
  sql: Sql;
  sqs: SQSClient;
  source: string;
  lockPid: number;
  limit: LimitFunction;
  pageSize: number;
  /** Pause while the queue holds more visible messages than this; 0 disables back-pressure. */
  maxQueueDepth: number;
  /**
   * How stale a queue depth reading may be: SQS's `ApproximateNumberOfMessages` is eventually consistent,
   * and AWS documents up to about a minute. Messages sent within this window before a reading count on
   * top of it until a later reading shows them. Default 60 s.
   */
  depthLagMs?: number;
  /** Reads the queue's depth; `readQueueDepth` (GetQueueAttributes) unless given. */
  readDepth?: (queueUrl: string) => Promise<QueueDepth | null>;
  log: ListenerLog;
  /** Where the listener's X-Ray segments go (one per sampled traced event it forwards); none when unset. */
  tracing?: SegmentSink;
  /** Told the gap-safe head each page read saw (the listener re-kicks while it trails the last probe). */
  onPageRead?(head: number): void;
  /** The checkpoint is gone or the ownership lock was lost: the listener should drop this forwarder. */
  onGone(reason: "deleted" | "lost"): void;
}

const BACKPRESSURE_RECHECK_MS = 1_000;
/**
 * How long a proof of ownership (a page or a checkpoint write that found the lock held) spares the next pages
 * and checkpoint writes their own check. Only the loss of the listener's lock session loses the lock, and
 * the listener finds that out itself within its claim interval (every query on the lock connection is one
 * more proof that it lives) and stops every forwarder. Until then a page may be sent, and its checkpoint
 * stored, that the new owner sends again: at least once, as after any crash. The generation fence (replays)
 * is checked on every write.
 */
const OWNERSHIP_RECHECK_MS = 1_000;
const DEFAULT_DEPTH_LAG_MS = 60_000;
/**
 * While no topic is listened to, the realtime target sleeps: it ignores wake-ups (no head probe, page or
 * checkpoint write for each) and looks for a marked topic this often, which bounds how much later than
 * usual the first event after a first subscription goes out.
 */
const DORMANT_CHECK_MS = 50;
/** How often a sleeping realtime target moves its checkpoint up to the gap-safe head (see resumeWhenListened). */
const DORMANT_ADVANCE_MS = 1_000;

/** The conditional checkpoint write matched nothing: replayed, deleted or no longer owned. */
class CheckpointRefused extends Error {}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Forwards one target while this listener owns it: on every kick, reads pages after the checkpoint, sends
 * what matches, and only then advances the checkpoint (fenced by generation and lock), so a crash at any
 * point repeats events rather than skipping them.
 */
export function startForwarder(target: ForwardTarget, deps: ForwarderDeps) {
  const abort = new AbortController();
  // Every in-flight SDK call listens on this signal; hundreds may be in flight.
  setMaxListeners(0, abort.signal);
  // The realtime target reads only events somebody may receive live; a subscription, what its filter's SQL
  // part lets through (the rest of the pattern is checked below).
  const where =
    target.kind === "realtime" ? hasLiveAudience(deps.sql) : patternToSql(deps.sql, target.pattern);
  const eventJson = (event: ForwardEvent) => cloudEventJson(event, deps.source);
  const body = target.kind === "subscription" ? subscriptionBody(target.name, target.delivery) : undefined;
  let dirty = true;
  let wake: (() => void) | undefined;
  /** The realtime target with no topic listened to (see {@link DORMANT_CHECK_MS}). */
  let dormant = false;
  let dormantAdvancedAt = 0;
  /** Highest position proven forwarded; kicks for positions at or below it are ignored. */
  let scanned = -1;
  // Back-pressure bookkeeping. A depth reading may be stale (SQS's counts are eventually consistent), so
  // the estimate is the last reading plus every message it may not show yet: those still being sent, and
  // those SQS accepted within `depthLagMs` before the reading started, unless a reading has since shown
  // them. A reading shows at least as many of our messages as the queue's total (visible + in flight)
  // grew since the reading before (consumers only take messages away), so that growth credits as many
  // unshown sends. The estimate is therefore never below the true depth while readings are at most
  // `depthLagMs` stale and the listener is the queue's only producer (a redrive from the DLQ adds
  // messages the credit may mistake for ours), and the queue never holds more than the maximum plus one
  // message from the listener. The price: while consumers take messages faster than readings show them,
  // at most about the maximum depth is sent per `depthLagMs`.
  const depthLagMs = deps.depthLagMs ?? DEFAULT_DEPTH_LAG_MS;
  const readDepth = deps.readDepth ?? ((url: string) => readQueueDepth(deps.sqs, url));
  let depthCheckedAt = 0;
  let knownDepth = 0;
  let lastTotal: number | undefined;
  let dispatched = 0;
  let completed = 0;
  /** Sends SQS accepted that no reading is known to show: when each batch completed, and its size. */
  let unshown: Array<{ at: number; count: number }> = [];
  let unshownCount = 0;
  /** Growth a reading showed beyond the sends recorded by then: sends it saw before their replies came. */
  let creditForPending = 0;
  let overloaded = false;
  let refreshing: Promise<void> | undefined;

  const estimatedDepth = () => knownDepth + (dispatched - completed) + unshownCount;

  function recordSent(count: number) {
    completed += count;
    if (deps.maxQueueDepth <= 0) return;
    const credited = Math.min(count, creditForPending);
    creditForPending -= credited;
    if (count === credited) return;
    unshown.push({ at: Date.now(), count: count - credited });
    unshownCount += count - credited;
  }

  /**
   * Forgets the sends a reading shows: those accepted more than `depthLagMs` before it started, and, for
   * `credit` messages of growth, the oldest others. Which sends are credited does not matter, only how
   * many: no more than the reading proved to be there.
   */
  function settleUnshown(startedAt: number, credit: number) {
    const kept: typeof unshown = [];
    let left = credit;
    for (const send of unshown) {
      if (send.at < startedAt - depthLagMs) continue;
      if (left > 0) {
        const taken = Math.min(left, send.count);
        left -= taken;
        if (taken < send.count) kept.push({ at: send.at, count: send.count - taken });
        continue;
      }
      kept.push(send);
    }
    unshown = kept;
    unshownCount = kept.reduce((sum, send) => sum + send.count, 0);
    // SQS may count a message before its send call returns: the rest of the growth is theirs.
    creditForPending = Math.min(left, dispatched - completed);
  }

  function refreshDepth(): Promise<void> {
    if (refreshing) return refreshing;
    const startedAt = Date.now();
    refreshing = readDepth(target.queueUrl)
      .then((depth) => {
        depthCheckedAt = Date.now();
        knownDepth = depth?.visible ?? 0;
        const total = depth ? depth.visible + depth.inFlight : 0;
        const growth = lastTotal === undefined ? 0 : Math.max(0, total - lastTotal);
        settleUnshown(startedAt, growth);
        lastTotal = total;
      })
      .finally(() => {
        refreshing = undefined;
      });
    return refreshing;
  }

  /**
   * Whether to pause. The depth is refreshed in the background about once a second, off the delivery
   * path; only when the estimate exceeds the maximum does it wait for a fresh figure.
   */
  async function queueOverloaded(): Promise<boolean> {
    if (deps.maxQueueDepth <= 0) return false;
    // The first reading is the baseline later growth is measured from: taken before anything is sent.
    if (lastTotal === undefined) await refreshDepth();
    if (Date.now() - depthCheckedAt >= BACKPRESSURE_RECHECK_MS) {
      refreshDepth().catch((error) =>
        deps.log("warn", "reading the queue depth failed", {
          target: target.name,
          error: (error as Error).message,
        }),
      );
    }
    if (estimatedDepth() > deps.maxQueueDepth) await refreshDepth();
    const next = estimatedDepth() > deps.maxQueueDepth;
    if (next && !overloaded) {
      deps.log("warn", "queue over max depth, pausing", { target: target.name, depth: knownDepth });
    } else if (!next && overloaded) {
      deps.log("info", "queue drained, resuming", { target: target.name, depth: knownDepth });
    }
    if (next !== overloaded) {
      // Shown as `state: paused` by the admin API; a lost write only delays that, never delivery.
      await deps.sql`
        update eventbus.checkpoints set paused_at = ${next ? new Date() : null} where name = ${target.name}`.catch(
        () => {},
      );
    }
    overloaded = next;
    return overloaded;
  }

  /**
   * How many of `count` messages fit under the maximum depth: a page is cut there, so the queue never
   * holds more than the maximum plus one message. `count` when back-pressure is off.
   */
  function room(count: number): number {
    if (deps.maxQueueDepth <= 0 || target.kind !== "subscription") return count;
    return Math.min(count, Math.max(1, deps.maxQueueDepth - estimatedDepth() + 1));
  }

  // A failure SQS reports is retried forever (see sendMessages); the subscription's status says why it lags.
  const failures = trackForwardingFailures(deps.sql, target.name, deps.log);
  const sendOptions: SendOptions = {
    sqs: deps.sqs,
    queueUrl: target.queueUrl,
    limit: deps.limit,
    fifo: target.fifo,
    signal: abort.signal,
    onRetry: (info) => {
      deps.log("warn", "SQS did not accept every message, retrying", { target: target.name, ...info });
      failures.failed(info.reason);
    },
  };

  /**
   * Parks what SQS refused for good, so that the checkpoint can move past it: one poison event must not stop
   * a subscription. A refused realtime pack is first split into one message per event, so only the
   * offending events are parked.
   */
  async function park(refused: RefusedMessage[]): Promise<void> {
    if (refused.length === 0) return;
    let final = refused;
    if (target.kind === "realtime") {
      const packed = refused.filter((r) => (r.message.events?.length ?? 0) > 1);
      const singles = packed.flatMap((r) =>
        (r.message.events ?? []).map((event) => fanoutMessages([{ event, json: eventJson(event) }])[0]!),
      );
      final = [
        ...refused.filter((r) => (r.message.events?.length ?? 0) <= 1),
        ...(await sendMessages(sendOptions, singles)),
      ];
    }
    const parked = final.flatMap(({ message, reason }) =>
      (message.events ?? []).map((event) => ({ position: event.position, eventId: event.id, reason })),
    );
    await parkEvents(deps.sql, target.name, parked);
    for (const event of parked) {
      deps.log("warn", "SQS refused an event for good; parked it and moved on", {
        target: target.name,
        ...event,
      });
    }
  }

  /** When ownership was last proven (see {@link OWNERSHIP_RECHECK_MS}); 0 when a write found it lost. */
  let ownedAt = 0;
  const readPage = async (after?: number) => {
    const checkOwnership = Date.now() - ownedAt >= OWNERSHIP_RECHECK_MS;
    const page = await readForwardPage(deps.sql, {
      name: target.name,
      lockPid: deps.lockPid,
      limit: deps.pageSize,
      where,
      checkOwnership,
      audience: target.kind === "realtime",
      ...(after === undefined ? {} : { after }),
    });
    if (checkOwnership && page?.owned) ownedAt = Date.now();
    return page;
  };

  /**
   * One catch-up pass. Pages are read ahead, and on standard queues the next page is sent while the last
   * one's sends finish (two pages in flight keep every SendMessageBatch slot busy). Checkpoints are still
   * stored strictly in page order, each only after its own sends and the previous store succeeded. FIFO
   * queues send page by page, or two pages' batches of one group could race.
   */
  async function drain(): Promise<void> {
    let next: ReturnType<typeof readPage> | undefined;
    let previous: Promise<void> | undefined;
    try {
      for (;;) {
        if (abort.signal.aborted) return;
        if (await queueOverloaded()) {
          dirty = true;
          await delay(BACKPRESSURE_RECHECK_MS);
          return;
        }
        const page = await (next ?? readPage());
        next = undefined;
        if (page) deps.onPageRead?.(page.head);
        const terminal = !page?.owned || (page.events.length === 0 && page.scannedThrough === page.after);
        if (terminal) {
          await previous;
          if (!page) return deps.onGone("deleted");
          if (!page.owned) return deps.onGone("lost");
          scanned = page.after;
          if (page.listened === false) fallAsleep();
          return;
        }
        // More of the log past this page: a full page, or one that ended at its scan window.
        const more = page.more;
        // Read the next page while this one is being sent; it is used only if this one's checkpoint sticks.
        if (more) next = readPage(page.scannedThrough);
        const events = page.events;
        const outgoing: Outgoing[] = events.map((event) => ({ event, json: eventJson(event) }));
        const pattern = target.pattern;
        const matching =
          pattern === null
            ? outgoing
            : outgoing.filter((o) => matchesEventPattern(pattern, JSON.parse(o.json)));
        const all =
          target.kind === "realtime"
            ? fanoutMessages(matching)
            : subscriptionMessages(matching, target.fifo, page.generation, body);
        // Under back-pressure only what fits is sent, and the checkpoint stops after its last event.
        const fits = room(all.length);
        const messages = fits < all.length ? all.slice(0, fits) : all;
        const cut = fits < all.length ? messages.at(-1)?.events?.at(-1)?.position : undefined;
        // Counted when dispatched, so the page still in flight weighs on the back-pressure check too.
        dispatched += messages.length;
        const spans =
          deps.tracing && target.kind === "subscription"
            ? startForwardSpans(messages, target.name, deps.tracing)
            : undefined;
        const sending = sendMessages(sendOptions, messages);
        const before = previous;
        const done = (async () => {
          let refused: RefusedMessage[];
          try {
            refused = await sending;
            if (messages.length > 0) failures.succeeded();
          } finally {
            // Sent or not, never counted as on the way forever; a failed page is sent again anyway.
            recordSent(messages.length);
          }
          spans?.end(new Set(refused.map((r) => r.message)));
          await park(refused);
          await before;
          const checkOwnership = Date.now() - ownedAt >= OWNERSHIP_RECHECK_MS;
          const stored = await storeCheckpoint(deps.sql, {
            name: target.name,
            position: cut ?? page.scannedThrough,
            generation: page.generation,
            lockPid: deps.lockPid,
            checkOwnership,
          });
          // A replay moved the checkpoint or the lock is gone: start again from what is stored.
          if (!stored) {
            ownedAt = 0;
            throw new CheckpointRefused();
          }
          if (checkOwnership) ownedAt = Date.now();
          scanned = cut ?? page.scannedThrough;
        })();
        done.catch(() => {}); // awaited below or in `finally`
        previous = done;
        if (cut !== undefined) {
          // The rest of this page (and the page read ahead) waits until the queue has room again.
          await done;
          previous = undefined;
          await next?.catch(() => undefined);
          next = undefined;
          continue;
        }
        if (target.fifo || !more) {
          await done;
          previous = undefined;
          if (!more) {
            if (page.listened === false) fallAsleep();
            return;
          }
        } else if (before) {
          await before;
        }
      }
    } catch (error) {
      if (!(error instanceof CheckpointRefused)) throw error;
      dirty = true;
    } finally {
      // Never leave a prefetch or a pipelined page to reject unobserved.
      await next?.catch(() => undefined);
      await previous?.catch(() => undefined);
    }
  }

  /**
   * The realtime target caught up through a page whose snapshot saw no topic listened to: it sleeps. Every
   * event that page passed committed before its snapshot, so before any mark it could not see was committed
   * and acknowledged; the target resumes at the lowest head a mark recorded, or where it stopped if that is
   * higher (see resumeWhenListened).
   */
  function fallAsleep() {
    dormant = true;
    dormantAdvancedAt = Date.now();
  }

  /** One look, while asleep, for a marked topic; wakes the target when there is one. */
  async function checkWhileDormant() {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, DORMANT_CHECK_MS);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    wake = undefined;
    if (abort.signal.aborted) return;
    try {
      const advanceIdle = Date.now() - dormantAdvancedAt >= DORMANT_ADVANCE_MS;
      if (advanceIdle) {
        dormantAdvancedAt = Date.now();
        await probeHead(deps.sql);
      }
      if (await resumeWhenListened(deps.sql, target.name, advanceIdle)) {
        dormant = false;
        dirty = true;
      }
    } catch (error) {
      if (abort.signal.aborted) return;
      deps.log("warn", "realtime check failed, retrying", { error: (error as Error).message });
    }
  }

  async function run() {
    while (!abort.signal.aborted) {
      if (dormant) {
        await checkWhileDormant();
        continue;
      }
      if (!dirty) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
        continue;
      }
      dirty = false;
      try {
        await drain();
        // Every send a pass starts is over before it returns: nothing it tried is failing.
        failures.succeeded();
      } catch (error) {
        if (abort.signal.aborted) return;
        deps.log("error", "forwarding failed, retrying", {
          target: target.name,
          error: (error as Error).message,
        });
        // The error itself may name tables or hosts: operators find it in the log this points to.
        failures.failed(
          "The listener could not read or checkpoint this subscription; its log has the error.",
        );
        dirty = true;
        await delay(1_000);
      }
    }
  }

  const running = run();
  return {
    target,
    /** Asks for a catch-up; `position` (a NOTIFY payload) lets an idle forwarder skip what it has seen. */
    /** Whether this forwarder has already read the log through `position`. */
    covers(position: number) {
      return dormant || position <= scanned;
    },
    kick(position?: number) {
      if (dormant) return;
      if (position !== undefined && position > 0 && position <= scanned) return;
      dirty = true;
      wake?.();
    },
    async stop() {
      abort.abort(new Error("forwarder stopped"));
      wake?.();
      await running;
    },
  };
}

export type Forwarder = ReturnType<typeof startForwarder>;
