import net from "node:net";
import pg from "pg";
import { LogicalReplicationService, type Pgoutput, PgoutputPlugin } from "pg-logical-replication";
import type { Sql } from "postgres";
import { appendCapturedBatch, type BatchWal, isStreamRace } from "./appendCapturedBatch.ts";
import { PUBLICATION, slotNameSql } from "./captureNames.ts";
import {
  type CapturedTable,
  rowChangeEvent,
  type SourceCommit,
  type StreamEvent,
  storableEvent,
  truncateEvent,
} from "./changeEvents.ts";
import type { ColumnType } from "./columnValue.ts";
import { lsnText, lsnValue } from "./lsn.ts";

// The capture decodes every column from pgoutput's text itself (see columnValue.ts), so node-postgres'
// parsers (which pg-logical-replication applies to every column, arrays included) are made the identity.
// node-postgres is used only by the capture in this process.
const identity = (text: string) => text;
(pg.types as { getTypeParser: unknown }).getTypeParser = () => identity;

export interface CaptureReaderOptions {
  /** The bus's pool: loads captures, appends, records progress. */
  sql: Sql;
  /** The same database, for the replication connection. */
  databaseUrl: string;
  log: (
    level: "debug" | "info" | "warn" | "error",
    message: string,
    fields?: Record<string, unknown>,
  ) => void;
  /** How often an idle reader looks for captures or a free slot; default 2000. */
  pollIntervalMs?: number;
  /** Source transactions are appended in batches; a batch closes at this many events. Default 2000. */
  maxBatchEvents?: number;
  /**
   * How long a reader that has caught up with the WAL leaves the replication socket unread before it
   * handles (and appends) what came meanwhile, so that a busy writer's transactions are taken in bursts;
   * default 30 ms. Each burst costs the reader and the store a fixed amount of work (a statement, its
   * commit, wake-ups), which at a busy writer's pace is much of what they spend. Measured beside a writer
   * at ~1,000 updates/s (bench:capture, same run, load 4-6), 20 ms: 19 events a batch, reader 102 and
   * store 83 µs of CPU per change; 30 ms: 34 a batch, 74 and 68 µs; 40 ms: 39 a batch, 64 and 63 µs. Lag
   * p50 grows by about half the added time (13, 19, 24 ms); p99 is set by the machine's load (67-81 ms in
   * that run, 47-105 ms at 40 ms in others), so 30 ms keeps a margin under 100 ms. The writer's own cost
   * did not move measurably with it: the walsender's work at each commit dominates (see bench:capture
   * --readers discard). (Over TLS: how long a batch waits for more transactions before its store commit.)
   */
  gatherMs?: number;
}

export interface CaptureReader {
  stop(): Promise<void>;
}

interface SourceTransaction {
  commit: SourceCommit;
  endLsn: string;
  committedAt: Date;
  changes: StreamEvent[];
}

/**
 * How soon, at least, a quiet capture checks whether its last batches' commits are on disk. Only the slot's
 * confirmed position (the WAL Postgres keeps) waits for it, never an event. A capture counts as quiet once
 * no batch has been appended for this long and for two gather times (a busy one appends a batch every
 * gather time, and its own statements tell it what is durable).
 */
const DURABILITY_CHECK_MS = 50;
/** How often, at most, a busy capture confirms a position to the slot. */
const CONFIRM_INTERVAL_MS = 200;
/** How long `stop()` waits for the replication session to end. */
const STOP_TIMEOUT_MS = 3_000;

/** Postgres' "replication slot is active for PID n": another listener owns the capture. */
const SLOT_IN_USE = "55006";

/**
 * Reads the changes of the captured tables from the WAL and appends them to the store: one permanent
 * `pgoutput` slot, owned by whichever listener holds its walsender (a second one waits until the slot is
 * free, which is the failover). Each source transaction's events are appended atomically and in commit
 * order, in batches of whole transactions, together with the commit LSN in `capture_progress`; only then is
 * the slot acknowledged. A restart replays from the slot's confirmed position and skips every transaction at
 * or below the recorded LSN, so nothing is lost or appended twice.
 */
export function startCaptureReader(options: CaptureReaderOptions): CaptureReader {
  const { sql, log } = options;
  const pollIntervalMs = options.pollIntervalMs ?? 2_000;
  const maxBatchEvents = options.maxBatchEvents ?? 2_000;
  const gatherMs = options.gatherMs ?? 30;
  const quietAfterMs = Math.max(DURABILITY_CHECK_MS, 2 * gatherMs + 10);
  let stopped = false;
  let service: LogicalReplicationService | undefined;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const types = new Map<number, ColumnType>();
  const typeOf = (oid: number): ColumnType => types.get(oid) ?? { oid, category: "U", element: 0 };
  async function learnTypes(oids: number[]): Promise<void> {
    let missing = [...new Set(oids)].filter((oid) => !types.has(oid));
    while (missing.length > 0) {
      // Domains decode as their base type; arrays need their element type too.
      const rows = await sql<{ oid: number; base: number; category: string; element: number }[]>`
        select t.oid::int as oid, coalesce(b.oid, t.oid)::int as base,
               coalesce(b.typcategory, t.typcategory)::text as category,
               coalesce(b.typelem, t.typelem)::int as element
        from pg_type t left join pg_type b on t.typtype = 'd' and b.oid = t.typbasetype
        where t.oid = any(${missing}::int[])`;
      for (const row of rows)
        types.set(row.oid, { oid: row.base, category: row.category, element: row.element });
      for (const oid of missing) if (!types.has(oid)) types.set(oid, { oid, category: "U", element: 0 });
      missing = rows.map((row) => row.element).filter((oid) => oid !== 0 && !types.has(oid));
    }
  }

  async function loadCaptures(): Promise<Map<string, CapturedTable>> {
    const rows = await sql<CapturedTable[]>`
      select name, table_schema as schema, table_name as "table", key_columns as "keyColumns"
      from eventbus.captures`;
    return new Map(rows.map((row) => [`${row.schema}.${row.table}`, row]));
  }

  async function recordError(slot: string, error: string): Promise<void> {
    await sql`
      insert into eventbus.capture_progress (slot, applied_lsn, last_error, last_error_at)
      values (${slot}, '0/0', ${error}, now())
      on conflict (slot) do update set last_error = excluded.last_error, last_error_at = now()`.catch(
      () => {},
    );
  }

  /** One replication session, until the connection ends or the reader stops. */
  async function replicate(slot: string, captures: Map<string, CapturedTable>): Promise<void> {
    // A store commit of an earlier session may still be on its way to disk; this transaction (the pool
    // commits synchronously) flushes the WAL through it, so the progress read next is durable.
    await sql`select pg_current_xact_id()`;
    const [progress] = await sql<{ applied: string }[]>`
      select applied_lsn::text as applied from eventbus.capture_progress where slot = ${slot}`;
    let applied = lsnValue(progress?.applied ?? "0/0");
    // What the slot has confirmed already: the answer to the walsender's requests for a reply until this
    // session confirms more (a lower position would move the slot back on Postgres before 17).
    const [confirmed] = await sql<{ lsn: string }[]>`
      select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = ${slot}`;
    let current: SourceTransaction | undefined;
    let pending: SourceTransaction[] = [];
    let pendingEvents = 0;
    let flushing: Promise<void> | undefined;
    let failure: Error | undefined;

    // The replication connection's socket is made here so that the reader can pause it (see below). With a
    // one-byte high-water mark a paused socket stops reading at once; at the default 16 KiB it would go on
    // reading, one wake-up per message, into its buffer.
    let socket: net.Socket | undefined;
    const replication = new LogicalReplicationService(
      {
        connectionString: options.databaseUrl,
        application_name: "eventbus-capture",
        // Column text as decodeColumnValue expects it, whatever the server's defaults.
        options: "-c DateStyle=ISO -c TimeZone=UTC -c bytea_output=hex -c extra_float_digits=3",
        stream: () => {
          socket = new net.Socket({ readableHighWaterMark: 1 } as net.SocketConstructorOpts);
          return socket;
        },
      },
      // No confirmation timer: the library's would confirm whatever was received (stored or not) after 10 s
      // without one from the reader, for instance while the store is slow or down. The walsender's requests
      // for a reply are answered by the heartbeat handler, with what is confirmed already.
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: false } },
    );
    service = replication;

    // When the reader last had nothing to apply: `lagSeconds` counts from here. Written at most once a second.
    let idleMarkedAt = 0;
    async function markIdle(): Promise<void> {
      if (Date.now() - idleMarkedAt < 1_000) return;
      idleMarkedAt = Date.now();
      await sql`update eventbus.capture_progress set idle_at = now() where slot = ${slot}`.catch(() => {});
    }

    /**
     * Confirms a position to the slot, unless this session failed: then nothing more may be confirmed. Never
     * a position before one confirmed already (Postgres before 17 would move the slot back).
     */
    let lastAcknowledged = confirmed?.lsn ?? "0/0";
    let lastAcknowledgedAt = 0;
    async function acknowledge(lsn: string): Promise<void> {
      if (failure || replication.isStop()) return;
      if (lsnValue(lsn) < lsnValue(lastAcknowledged)) lsn = lastAcknowledged;
      lastAcknowledged = lsn;
      lastAcknowledgedAt = Date.now();
      await replication.acknowledge(lsn).catch(() => false);
    }

    /*
     * Store commits are asynchronous (they do not wait for their WAL flush, so they do not queue fsyncs in
     * front of the application's writers), so a committed batch may still be lost in a crash. The slot is
     * therefore confirmed past a batch only once Postgres reports the WAL flushed beyond the batch's commit:
     * until then the slot keeps the source transactions, and a restart appends them again (the store's
     * progress row, lost with the batch, does not skip them). Batches wait here in commit order. A WAL
     * position past a batch's commit (`after`) is read by the next batch's transaction (which began after
     * that commit), together with the flushed position, so a busy capture learns both without a query of
     * their own; only a capture that has gone quiet asks (watchDurability). The slot only needs to keep up
     * roughly (it bounds the WAL Postgres keeps, and what a restart reads again), so a busy capture
     * confirms at most every CONFIRM_INTERVAL_MS: each confirmation is a message the walsender handles.
     */
    const notDurable: Array<{ endLsn: string; seq: number; after?: bigint }> = [];
    let committedBatches = 0;
    let flushedThrough = 0n;
    /** Durable, and not confirmed yet: the end of the newest batch whose commit is on disk. */
    let confirmable: string | undefined;
    async function confirmDurable(now: boolean): Promise<void> {
      if (!confirmable || (!now && Date.now() - lastAcknowledgedAt < CONFIRM_INTERVAL_MS)) return;
      const lsn = confirmable;
      confirmable = undefined;
      await acknowledge(lsn);
    }
    /**
     * Takes in WAL positions read after the first `before` batches had committed (`inserted` is past their
     * commits), and confirms the batches whose commits are flushed.
     */
    async function acknowledgeDurable(inserted: string, flushed: string, before: number): Promise<void> {
      const insertedValue = lsnValue(inserted);
      for (const batch of notDurable) if (batch.seq < before) batch.after ??= insertedValue;
      const flushedValue = lsnValue(flushed);
      if (flushedValue > flushedThrough) flushedThrough = flushedValue;
      while (notDurable[0]?.after !== undefined && notDurable[0].after <= flushedThrough)
        confirmable = notDurable.shift()!.endLsn;
      await confirmDurable(false);
    }
    async function checkDurability(): Promise<void> {
      if (notDurable.length > 0) {
        const before = committedBatches;
        const [{ inserted, flushed }] = await sql<[{ inserted: string; flushed: string }]>`
          select pg_current_wal_insert_lsn()::text as inserted, pg_current_wal_flush_lsn()::text as flushed`;
        await acknowledgeDurable(inserted, flushed, before);
      }
      await confirmDurable(true);
    }
    /**
     * Checks shortly for batches still waiting, and confirms what is durable, once no batch has been
     * appended for a while (a batch's own statement reads the positions).
     */
    let durabilityTimer: NodeJS.Timeout | undefined;
    function watchDurability(): void {
      if (notDurable.length === 0 && !confirmable) return;
      // Each batch pushes the check back (a busy capture learns from its own statements), so that a busy
      // reader is not woken for it: the check runs once no batch has been appended for a while.
      if (durabilityTimer) {
        durabilityTimer.refresh();
        return;
      }
      durabilityTimer = setTimeout(() => {
        durabilityTimer = undefined;
        (flushing ? Promise.resolve() : checkDurability()).catch(() => {}).finally(watchDurability);
      }, quietAfterMs);
    }
    // A keepalive can arrive while messages before it are held (see holdWhile); confirming its position then
    // would skip them.
    const queuedMessages = () => held.length + (busy ? 1 : 0);

    async function flushOnce(): Promise<void> {
      const batch = pending;
      pending = [];
      pendingEvents = 0;
      const last = batch.at(-1)!;
      // One JSON array for the whole batch, in the source's commit order: each item the event as the store
      // takes it, with its stream and its transaction's commit LSN so that the store can skip what it
      // already holds (see appendCapturedBatch).
      const items: string[] = [];
      const refusals: string[] = [];
      for (const transaction of batch) {
        const lsn = `"${transaction.commit.lsn}"`;
        for (const change of transaction.changes) {
          const { json, refused } = storableEvent(change);
          if (refused) refusals.push(`${change.streamId}: ${refused}`);
          // `json` is an object: its members follow the stream's and the LSN's.
          items.push(`{"streamId":${JSON.stringify(change.streamId)},"lsn":${lsn},${json.slice(1)}`);
        }
      }
      const batchJson = `[${items.join(",")}]`;
      const progress = {
        slot,
        lastLsn: last.commit.lsn,
        lastCommittedAt: last.committedAt,
        refusals,
      };
      let wal: BatchWal | undefined;
      const before = committedBatches;
      for (let attempt = 0; ; attempt++) {
        try {
          wal = await appendCapturedBatch(sql, batchJson, progress);
          if (wal) break;
          if (stopped || replication.isStop()) throw new Error("capture stopped");
          // No progress row (the first batch of a slot): create it, then append.
          await sql`
            insert into eventbus.capture_progress (slot, applied_lsn) values (${slot}, '0/0')
            on conflict (slot) do nothing`;
        } catch (error) {
          if (stopped || replication.isStop()) throw error;
          // Another writer appended to one of the batch's streams meanwhile: at once again, on its versions.
          if (isStreamRace(error) && attempt < 100) continue;
          const retryInMs = Math.min(100 * 2 ** attempt, 5_000);
          log("warn", "capture could not append, retrying", { error: (error as Error).message, retryInMs });
          await recordError(slot, `append failed: ${(error as Error).message}`);
          await new Promise((resolve) => setTimeout(resolve, retryInMs));
        }
      }
      applied = lsnValue(last.commit.lsn);
      for (const refusal of refusals) log("warn", "capture stored a row as refused", { refusal });
      // The positions were read before this batch's commit: they settle the batches before it only.
      notDurable.push({ endLsn: last.endLsn, seq: committedBatches++ });
      await acknowledgeDurable(wal!.inserted, wal!.flushed, before);
      watchDurability();
    }

    /*
     * Reading in bursts. The walsender sends each source transaction as soon as it is flushed. A reader
     * that took each message as it came would wake up two or three times per change of a busy writer, and
     * a wake-up, a socket read and an append statement, not the decoding, are most of what a change costs
     * it and the store: the CPU it takes from the writer's cores. So the reader handles everything the
     * socket holds, starts appending it as one batch, and then leaves the socket paused for `gatherMs`:
     * what the walsender sends meanwhile waits in the socket, is read in one go and appended in one batch.
     * The burst ends when, after a commit, two more turns of the event loop (in which the socket is read if
     * anything came) brought nothing: a paused socket has read one more
     * chunk before it stopped, and ending the burst with that chunk would leave the rest of what came
     * during the pause for the next burst (measured: the lag doubled). A backlog is read without pauses (the
     * burst does not end) and appended in batches of `maxBatchEvents`. Over TLS the socket that Postgres'
     * messages are read from is not this one, and the reader does not pause (a paused TLS socket would go
     * on reading into its buffer, then hand it over one read at a time); its batches gather for
     * `gatherMs` instead.
     */
    const readsThisSocket = () => socket !== undefined && socket.listenerCount("data") > 0;
    const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    /** The stream the library reads messages from: the socket, or the TLS stream over it. */
    const messageStream = () =>
      (replication as unknown as { _connection?: { stream?: net.Socket } })._connection?.stream ?? socket;
    /** Why reading is paused: it resumes when no reason is left. */
    const pausedFor = new Set<"gather" | "busy">();
    function pause(reason: "gather" | "busy", stream = messageStream()): void {
      pausedFor.add(reason);
      stream?.pause();
    }
    function resume(reason: "gather" | "busy", stream = messageStream()): void {
      pausedFor.delete(reason);
      if (pausedFor.size === 0 && !replication.isStop()) stream?.resume();
    }
    /** Messages handled so far: a burst goes on while this grows. */
    let handled = 0;
    let burstCheck: NodeJS.Immediate | undefined;
    let gathering: NodeJS.Timeout | undefined;
    function endBurstSoon(): void {
      if (burstCheck || busy) return;
      const seen = handled;
      burstCheck = setImmediate(() => {
        burstCheck = setImmediate(() => {
          burstCheck = undefined;
          if (handled !== seen) endBurstSoon();
          else if (!busy) endBurst();
        });
      });
    }
    function endBurst(): void {
      if (pending.length > 0) startFlush();
      if (gatherMs <= 0 || !socket || replication.isStop()) return;
      pause("gather", socket);
      gathering = setTimeout(() => {
        gathering = undefined;
        resume("gather", socket);
      }, gatherMs);
    }

    /** Appends what is pending, batch after batch; transactions received meanwhile join the next batch. */
    function startFlush(): Promise<void> {
      flushing ??= (async () => {
        try {
          while (pending.length > 0) {
            if (!readsThisSocket() && pendingEvents < maxBatchEvents && gatherMs > 0) await delay(gatherMs);
            await flushOnce();
          }
        } catch (error) {
          failure = error as Error;
          await replication.stop().catch(() => {});
        } finally {
          flushing = undefined;
        }
      })();
      return flushing;
    }

    function fail(error: unknown): void {
      log("debug", "capture session error", { error: (error as Error).message });
      failure ??= error as Error;
      void replication.stop().catch(() => {});
    }

    /**
     * Handles one message, synchronously as a rule. One that must wait (a relation with types not seen yet,
     * a change of a table the loaded captures do not know, a full batch) returns what it waits for.
     */
    function handleMessage(message: Pgoutput.Message): Promise<void> | undefined {
      handled++;
      switch (message.tag) {
        case "relation": {
          const oids = message.columns.map((column) => column.typeOid);
          return oids.every((oid) => types.has(oid)) ? undefined : learnTypes(oids);
        }
        case "begin":
          current = {
            commit: { lsn: lsnText(message.commitLsn ?? "0/0"), xid: String(message.xid) },
            endLsn: message.commitLsn ?? "0/0",
            committedAt: new Date(Number((message.commitTime as bigint) / 1000n)),
            changes: [],
          };
          return;
        case "insert":
        case "update":
        case "delete": {
          const transaction = current;
          if (!transaction) return;
          const table = `${message.relation.schema}.${message.relation.name}`;
          const capture = captures.get(table);
          if (capture) {
            transaction.changes.push(rowChangeEvent(capture, message, transaction.commit, typeOf));
            return;
          }
          return loadCaptures().then((loaded) => {
            captures = loaded;
            const added = captures.get(table);
            if (added) transaction.changes.push(rowChangeEvent(added, message, transaction.commit, typeOf));
          });
        }
        case "truncate": {
          if (!current) return;
          for (const relation of message.relations) {
            const capture = captures.get(`${relation.schema}.${relation.name}`);
            if (capture) current.changes.push(truncateEvent(capture, current.commit));
          }
          return;
        }
        case "commit": {
          const transaction = current;
          current = undefined;
          if (!transaction) return;
          transaction.endLsn = message.commitEndLsn ?? transaction.endLsn;
          if (lsnValue(transaction.commit.lsn) <= applied || transaction.changes.length === 0) {
            // Already in the store (a restart between append and acknowledge), or nothing captured.
            if (!flushing && pending.length === 0 && notDurable.length === 0) {
              void acknowledge(transaction.endLsn);
            }
          } else {
            pending.push(transaction);
            pendingEvents += transaction.changes.length;
            // Back-pressure: the WAL stream waits while a full batch is being appended.
            if (pendingEvents >= maxBatchEvents) return startFlush();
            // Over TLS the flush gathers by itself (see above).
            if (!readsThisSocket()) startFlush();
          }
          if (readsThisSocket()) endBurstSoon();
          return;
        }
      }
    }

    /*
     * The library hands over each message as it parses it (its own queue, which awaits every handler, is
     * off). Messages after one that waits are held, in order, with reading paused, until it is done.
     */
    const held: Pgoutput.Message[] = [];
    let busy: Promise<void> | undefined;
    function holdWhile(wait: Promise<void>): void {
      pause("busy");
      busy = (async () => {
        await wait;
        while (held.length > 0) {
          const next = handleMessage(held.shift()!);
          if (next) await next;
        }
      })().then(
        () => {
          busy = undefined;
          resume("busy");
          if (readsThisSocket()) endBurstSoon();
        },
        (error) => {
          busy = undefined;
          fail(error);
        },
      );
    }
    replication.on("data", (_lsn: string, message: Pgoutput.Message) => {
      if (busy) {
        held.push(message);
        return;
      }
      try {
        const wait = handleMessage(message);
        if (wait) holdWhile(wait);
      } catch (error) {
        fail(error);
      }
    });
    replication.on("heartbeat", (lsn: string, _time: number, shouldRespond: boolean) => {
      // With nothing received and unapplied, everything up to the server's position is either in the
      // store or not captured: confirming it lets Postgres recycle WAL that only the bus's own writes made.
      // (The walsender sends a keepalive whenever it waits with the slot confirmed behind what it sent,
      // which for a busy writer is after nearly every transaction: this handler stays free of queries.)
      if (
        !current &&
        pending.length === 0 &&
        !flushing &&
        notDurable.length === 0 &&
        queuedMessages() === 0
      ) {
        void acknowledge(lsn).then(markIdle);
      } else if (shouldRespond) void acknowledge(lastAcknowledged);
    });
    // Any error (a message that cannot be decoded, a lost connection) ends the session before anything
    // after it is acknowledged; the next session starts again from the slot's confirmed position.
    replication.on("error", fail);

    try {
      await replication.subscribe(
        new PgoutputPlugin({ protoVersion: 1, publicationNames: [PUBLICATION] }),
        slot,
      );
    } catch (error) {
      failure ??= error as Error;
    } finally {
      clearImmediate(burstCheck);
      clearTimeout(gathering);
      await flushing?.catch(() => {});
      clearTimeout(durabilityTimer);
      await replication.destroy().catch(() => {});
      service = undefined;
    }
    if (failure && !stopped) throw failure;
  }

  async function run(): Promise<void> {
    let failures = 0;
    while (!stopped) {
      try {
        const [row] = await sql<{ slot: string; exists: boolean }[]>`
          select s.slot, exists (select from pg_replication_slots where slot_name = s.slot) as exists
          from (select ${sql.unsafe(slotNameSql)} as slot) s`;
        const captures = await loadCaptures();
        if (!row?.exists || captures.size === 0) {
          failures = 0;
          await sleep(pollIntervalMs);
          continue;
        }
        log("info", "capture reading the WAL", { slot: row.slot, tables: [...captures.keys()] });
        await replicate(row.slot, captures);
        failures = 0;
      } catch (error) {
        if (stopped) break;
        const code = (error as { code?: string }).code;
        if (code === SLOT_IN_USE) {
          // Another listener owns the slot; take over when it goes away.
          log("debug", "capture slot in use by another listener");
          await sleep(pollIntervalMs);
          continue;
        }
        failures++;
        const retryInMs = Math.min(250 * 2 ** failures, 10_000);
        log("warn", "capture stopped, restarting", { error: (error as Error).message, retryInMs });
        const [row] = await sql<{ slot: string }[]>`select ${sql.unsafe(slotNameSql)} as slot`.catch(
          () => [],
        );
        if (row) await recordError(row.slot, (error as Error).message);
        await sleep(retryInMs);
      }
    }
  }

  const running = run();
  const unlisten = sql
    .listen("eventbus_captures", () => wake?.())
    .then((listening) => listening.unlisten)
    .catch(() => undefined);

  return {
    async stop() {
      stopped = true;
      wake?.();
      const stopping = (async () => {
        await service?.stop().catch(() => {});
        await running;
        await (await unlisten)?.().catch(() => {});
      })();
      // Ending a replication connection can wait on the server; a stop (SIGTERM) must not hang on it.
      // Nothing depends on a clean end: the store records what was applied, and the slot resends the rest.
      await Promise.race([stopping, new Promise((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS).unref())]);
    },
  };
}
