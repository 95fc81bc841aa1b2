import type { ReservedSql, Sql } from "postgres";
import { toCloudEvent } from "../events/cloudEvent.ts";
import { readAll } from "../events/readAll.ts";
import type { RecordedEvent } from "../events/types.ts";
import { EVENTS_CHANNEL } from "../events/wakeListeners.ts";
import { matchesEventPattern } from "../subscriptions/eventPattern.ts";
import type { Operator } from "./defineOperator.ts";

export interface OperatorsOptions {
  sql: Sql;
  operators: readonly Operator[];
  /** The CloudEvents `source` of the events handed to operators. */
  source?: string;
  log: (
    level: "debug" | "info" | "warn" | "error",
    message: string,
    fields?: Record<string, unknown>,
  ) => void;
  /** Names this process in `GET /operators/{name}` (`owner`). */
  ownerId?: string;
  /** Safety-net poll while idle, and how often a standby tries to take an operator over; default 1000. */
  pollIntervalMs?: number;
  /** First retry delay after a failure, doubled each attempt up to 30 s; default 200. */
  retryBaseMs?: number;
  pageSize?: number;
}

export interface RunningOperators {
  stop(): Promise<void>;
}

/** Another process advanced the checkpoint: this one no longer owns the operator. */
class CheckpointMoved extends Error {}

const PAGE_SIZE = 200;
/** Matching events applied in one transaction when none of them fails. */
const BATCH_SIZE = 50;

/**
 * Runs operators in this process. Matching events are applied in batches of up to 50 per transaction;
 * an event that fails is applied alone, retried and eventually parked. Each operator is owned by one process at a time through a session
 * advisory lock on a dedicated connection (a crashed owner's lock goes with its connection, and a standby
 * takes over on its next try). Every write also checks that the checkpoint is where this process left it,
 * so even two processes that both believe they own an operator never apply an event twice.
 */
export function startOperators(options: OperatorsOptions): RunningOperators {
  const { sql, log } = options;
  const pollIntervalMs = options.pollIntervalMs ?? 1_000;
  const retryBaseMs = options.retryBaseMs ?? 200;
  const pageSize = options.pageSize ?? PAGE_SIZE;
  const ownerId = options.ownerId ?? `pid-${process.pid}`;
  let stopped = false;
  const wakers = new Set<() => void>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      wakers.add(done);
    });
  const wakeAll = () => {
    for (const wake of [...wakers]) wake();
  };

  async function runOwned(operator: Operator, lockSession: ReservedSql): Promise<void> {
    const maxAttempts = operator.maxAttempts ?? 5;
    for (;;) {
      if (stopped) return;
      // The lock's connection still alive is what ownership means.
      await lockSession`select 1`;
      const [state] = await sql<{ checkpoint: number; replayFrom: number | null }[]>`
        select checkpoint, replay_from as "replayFrom" from eventbus.operators where name = ${operator.name}`;
      if (!state) throw new CheckpointMoved("operator row is gone");
      if (state.replayFrom !== null) {
        const from = state.replayFrom;
        await sql.begin(async (tx) => {
          await operator.reset?.(tx, from);
          await tx`
            update eventbus.operators
            set checkpoint = ${from}, replay_from = null, attempts = 0, updated_at = now()
            where name = ${operator.name} and replay_from = ${from}`;
        });
        log("info", "operator replaying", { operator: operator.name, from });
        continue;
      }
      const page = await readAll(sql, { after: state.checkpoint, limit: pageSize });
      if (page.events.length === 0) {
        await sleep(pollIntervalMs);
        continue;
      }
      let checkpoint = state.checkpoint;
      const matching = page.events
        .map((event) => ({ event, cloudEvent: toCloudEvent(event, options.source) }))
        .filter(({ cloudEvent }) => !operator.filter || matchesEventPattern(operator.filter, cloudEvent));
      for (let start = 0; start < matching.length; start += BATCH_SIZE) {
        if (stopped) return;
        const batch = matching.slice(start, start + BATCH_SIZE);
        // The happy path applies a batch in one transaction; when one of its events fails, the batch is
        // rolled back and applied again event by event, with retries and parking.
        const applied = await applyBatch(operator, batch, checkpoint);
        if (applied !== undefined) {
          checkpoint = applied;
          continue;
        }
        for (const { event, cloudEvent } of batch) {
          if (stopped) return;
          checkpoint = await apply(operator, event, cloudEvent, checkpoint, maxAttempts);
        }
      }
      const last = page.events.at(-1)!.position;
      if (last > checkpoint) {
        const moved = await sql`
          update eventbus.operators set checkpoint = ${last}, updated_at = now()
          where name = ${operator.name} and checkpoint = ${checkpoint}`;
        if (moved.count === 0) throw new CheckpointMoved("checkpoint moved");
      }
    }
  }

  /** Applies events in one transaction; the new checkpoint, or `undefined` when one of them failed. */
  async function applyBatch(
    operator: Operator,
    batch: Array<{ event: RecordedEvent; cloudEvent: ReturnType<typeof toCloudEvent> }>,
    checkpoint: number,
  ): Promise<number | undefined> {
    if (batch.length < 2) return undefined;
    const last = batch.at(-1)!.event.position;
    try {
      await sql.begin(async (tx) => {
        for (const { cloudEvent } of batch) await operator.handle(cloudEvent, tx);
        const moved = await tx`
          update eventbus.operators set checkpoint = ${last}, attempts = 0, updated_at = now()
          where name = ${operator.name} and checkpoint = ${checkpoint} and replay_from is null`;
        if (moved.count === 0) throw new CheckpointMoved("checkpoint moved");
      });
      return last;
    } catch (error) {
      if (error instanceof CheckpointMoved) throw error;
      return undefined;
    }
  }

  /** Applies one event with retries; parks it after `maxAttempts`. Returns the new checkpoint. */
  async function apply(
    operator: Operator,
    event: RecordedEvent,
    cloudEvent: ReturnType<typeof toCloudEvent>,
    checkpoint: number,
    maxAttempts: number,
  ): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        await sql.begin(async (tx) => {
          await operator.handle(cloudEvent, tx);
          const moved = await tx`
            update eventbus.operators
            set checkpoint = ${event.position}, attempts = 0, updated_at = now()
            where name = ${operator.name} and checkpoint = ${checkpoint} and replay_from is null`;
          if (moved.count === 0) throw new CheckpointMoved("checkpoint moved");
        });
        return event.position;
      } catch (error) {
        if (error instanceof CheckpointMoved) throw error;
        const message = error instanceof Error ? error.message : String(error);
        log("warn", "operator failed on an event", {
          operator: operator.name,
          position: event.position,
          attempt,
          error: message,
        });
        await sql`
          update eventbus.operators
          set attempts = ${attempt}, last_error = ${message}, last_error_at = now(), updated_at = now()
          where name = ${operator.name}`;
        if (attempt >= maxAttempts) {
          await sql.begin(async (tx) => {
            const moved = await tx`
              update eventbus.operators
              set checkpoint = ${event.position}, attempts = 0, parked = parked + 1, updated_at = now()
              where name = ${operator.name} and checkpoint = ${checkpoint} and replay_from is null`;
            if (moved.count === 0) throw new CheckpointMoved("checkpoint moved");
            await tx`
              insert into eventbus.operator_parked (name, position, event_id, error, attempts)
              values (${operator.name}, ${event.position}, ${event.id}, ${message}, ${attempt})
              on conflict (name, position) do update
              set error = excluded.error, attempts = excluded.attempts, parked_at = now()`;
          });
          log("error", "operator parked an event", { operator: operator.name, position: event.position });
          return event.position;
        }
        if (stopped) throw error;
        await sleep(Math.min(retryBaseMs * 2 ** (attempt - 1), 30_000));
      }
    }
  }

  async function run(operator: Operator): Promise<void> {
    let failures = 0;
    while (!stopped) {
      let lockSession: ReservedSql | undefined;
      try {
        await sql`insert into eventbus.operators (name) values (${operator.name}) on conflict do nothing`;
        lockSession = await sql.reserve();
        const [lock] = await lockSession<{ locked: boolean }[]>`
          select pg_try_advisory_lock(hashtext('eventbus.operator'), hashtext(${operator.name})) as locked`;
        if (!lock?.locked) {
          lockSession.release();
          lockSession = undefined;
          await sleep(pollIntervalMs);
          continue;
        }
        await sql`update eventbus.operators set owner = ${ownerId} where name = ${operator.name}`;
        log("info", "operator running", { operator: operator.name });
        await runOwned(operator, lockSession);
        failures = 0;
      } catch (error) {
        if (stopped) break;
        failures++;
        log(error instanceof CheckpointMoved ? "info" : "warn", "operator stopped, restarting", {
          operator: operator.name,
          error: (error as Error).message,
        });
        await sleep(Math.min(retryBaseMs * 2 ** failures, 10_000));
      } finally {
        if (lockSession) {
          await lockSession`select pg_advisory_unlock(hashtext('eventbus.operator'), hashtext(${operator.name}))`.catch(
            () => {},
          );
          lockSession.release();
        }
      }
    }
  }

  const running = options.operators.map((operator) => run(operator));
  const listening =
    options.operators.length === 0
      ? Promise.resolve(undefined)
      : sql
          .listen(EVENTS_CHANNEL, wakeAll)
          .then((listener) => listener.unlisten)
          .catch(() => undefined);

  return {
    async stop() {
      stopped = true;
      wakeAll();
      await Promise.all(running);
      await (await listening)?.().catch(() => {});
    },
  };
}
