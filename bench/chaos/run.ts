import { SQSClient } from "@aws-sdk/client-sqs";
import { type BusHandle, spawnBus } from "./busClient.ts";
import { seededRandom } from "./faultProxy.ts";
import { handleCount, type ProcessSample, slopePerMinute, takeSample } from "./memory.ts";
import {
  connectWsClient,
  newSinkRecord,
  newWriterStats,
  POISON_KINDS,
  type PoisonKind,
  putPoisonFilters,
  readAllMessages,
  runWriters,
  type SinkRecord,
  startQueueConsumer,
  type WsClientRecord,
} from "./workload.ts";

export interface ChaosOptions {
  seconds: number;
  writers: number;
  streams: number;
  /** Events per second across all writers. */
  rate: number;
  /** SIGKILLs of the listener, spread over the run. */
  kills: number;
  /** Postgres restarts, spread over the run. */
  pgRestarts: number;
  /** Share of the listener's SQS calls that fail, and the latency added to each. */
  failureRate: number;
  latencyMs: [number, number];
  poisonRate: number;
  /** How long to wait after the last append for every sink to catch up. */
  drainSeconds: number;
  seed: number;
  /** Soak: sample memory and handles every `sampleSeconds`; judge growth at the end. */
  soak?: { sampleSeconds: number };
  log: (message: string) => void;
}

export interface SinkReport {
  sink: string;
  expected: number;
  delivered: number;
  missing: number;
  parked: number;
  lost: number;
  duplicates: number;
  inversions: number | null;
  lag: number | null;
  stuck: boolean;
  /** WebSocket clients: losses count only for clients connected throughout. */
  connectedThroughout?: boolean;
}

export interface MemoryReport {
  process: string;
  samples: number;
  start: { rssMB: number; heapMB: number | null; handles: number | null };
  end: { rssMB: number; heapMB: number | null; handles: number | null };
  /** MB per minute over the first and the second half of the samples after warm-up. */
  rssSlope: [number, number];
  heapSlope: [number, number] | null;
  levelsOff: boolean;
  reason: string;
}

export interface ChaosReport {
  mode: "chaos" | "soak";
  seed: number;
  seconds: number;
  appended: { requests: number; events: number; statuses: Record<string, number>; networkErrors: number };
  unexpectedRefusals: Record<string, number>;
  poison: Record<string, { sent: number; accepted: number; refused: number; expected: "refuse" | "accept" }>;
  poisonFilters: { tried: number; refused: number; accepted: string[] };
  sinks: SinkReport[];
  transientWs: { clients: number; events: number; errors: number };
  faults: {
    listenerKills: number;
    listenerUnexpectedExits: number;
    postgresRestarts: number;
    proxyCalls: number;
    proxyRefused: number;
    proxyResetBefore: number;
    proxyResetAfter: number;
  };
  /** Seconds to start the bus, of load (faults included), and from the last append until every sink had it all. */
  timings: { startup: number; load: number; drain: number };
  listenerProblems: Array<{ message: string; count: number }>;
  /** Why events were parked, per subscription (from the store's parked table), with counts. */
  parkedReasons: Array<{ message: string; count: number }>;
  /** Warnings and errors logged by the HTTP and WebSocket handlers and the broadcaster (this process). */
  handlerProblems: Array<{ message: string; count: number }>;
  memory?: MemoryReport[];
  violations: string[];
  ok: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const toRecord = <K extends string | number>(map: Map<K, number>) =>
  Object.fromEntries([...map].map(([k, v]) => [String(k), v]));

async function api(bus: BusHandle, method: string, path: string, body?: unknown) {
  const response = await fetch(`${bus.httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${bus.adminToken}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json().catch(() => undefined)) as any };
}

/** Inversions: first arrivals of a stream's event after a later version of the same stream had arrived. */
function countInversions(sink: SinkRecord): number {
  let inversions = 0;
  for (const versions of sink.firstArrivals.values()) {
    let max = 0;
    for (const v of versions) {
      if (v < max) inversions++;
      else max = v;
    }
  }
  return inversions;
}

const MB = 1024 * 1024;

/**
 * The soak rule. Samples of the first 10 % of the run are warm-up (pools filling, JIT, caches) and left
 * out; the rest is split in halves and a least-squares slope fitted to each. A figure levels off when the
 * second half grows at most half as fast as the first, or slower than a floor that is noise (RSS 1 MB/min,
 * heap 0.5 MB/min, handles 2/min: over a 10-minute soak a few MB or handles, inside allocator, GC and
 * pool jitter). A leak grows at a steady rate, so both halves have about the same slope and it fails.
 * Handles are judged by slope too, not start against end: connection pools (Postgres, the SDK's keep-alive
 * sockets, HTTP keep-alive from the writers) legitimately grow from idle to what the load needs.
 */
function judgeMemory(name: string, samples: ProcessSample[]): MemoryReport {
  const warm = samples.slice(Math.floor(samples.length * 0.1));
  const half = Math.floor(warm.length / 2);
  const slopes = (value: (s: ProcessSample) => number | null, unit = MB): [number, number] | null => {
    if (warm.some((s) => value(s) === null)) return null;
    const pts = warm.map((s) => ({ at: s.at, value: value(s)! / unit }));
    return [slopePerMinute(pts.slice(0, half + 1)), slopePerMinute(pts.slice(half))];
  };
  const rssSlope = slopes((s) => s.rssBytes) ?? [0, 0];
  const heapSlope = slopes((s) => s.heapUsedBytes);
  const handleSlope = slopes(handleCount, 1);
  const reasons: string[] = [];
  const grows = (pair: [number, number], floor: number) => pair[1] > Math.max(0.5 * pair[0], floor);
  if (grows(rssSlope, 1)) reasons.push(`RSS still grows ${rssSlope[1].toFixed(2)} MB/min`);
  if (heapSlope && grows(heapSlope, 0.5)) reasons.push(`heap still grows ${heapSlope[1].toFixed(2)} MB/min`);
  if (handleSlope && grows(handleSlope, 2))
    reasons.push(`handles still grow ${handleSlope[1].toFixed(1)}/min`);
  const first = samples[0]!;
  const last = samples.at(-1)!;
  const figures = (s: ProcessSample) => ({
    rssMB: Math.round(s.rssBytes / MB),
    heapMB: s.heapUsedBytes === null ? null : Math.round(s.heapUsedBytes / MB),
    handles: handleCount(s),
  });
  return {
    process: name,
    samples: samples.length,
    start: figures(first),
    end: figures(last),
    rssSlope: rssSlope.map((v) => Number(v.toFixed(3))) as [number, number],
    heapSlope: heapSlope ? (heapSlope.map((v) => Number(v.toFixed(3))) as [number, number]) : null,
    levelsOff: reasons.length === 0,
    reason: reasons.join("; ") || "levels off",
  };
}

/**
 * One chaos (or soak) run: starts the bus, subscribes, connects WebSocket clients, drives the writers
 * while faults happen on a fixed schedule, drains, and compares what every sink got with what was accepted.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const { log } = options;
  const bootAt = Date.now();
  const random = seededRandom(options.seed);
  const bus = await spawnBus(
    {
      seed: options.seed,
      failureRate: options.failureRate,
      latencyMs: options.latencyMs,
      listenerPollMs: 1000,
    },
    log,
  );
  const sqs = new SQSClient({
    endpoint: bus.sqsEndpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    useQueueUrlAsEndpoint: false,
  });
  const violations: string[] = [];
  const stats = newWriterStats();
  const transient: WsClientRecord[] = [];
  let pgRestarts = 0;
  try {
    log(
      `bus up: http ${bus.httpUrl}, ws ${bus.wsUrl}, sqs ${bus.sqsEndpoint} (listener via ${bus.proxyEndpoint})`,
    );
    const subscriptions: Record<string, { queueUrl: string; dlqUrl: string }> = {};
    for (const [name, body] of [
      ["ordered", { startFrom: "origin", ordering: "stream" }],
      ["unordered", { startFrom: "origin" }],
    ] as const) {
      const created = await api(bus, "PUT", `/subscriptions/${name}`, body);
      if (created.status !== 201)
        throw new Error(`PUT /subscriptions/${name}: ${created.status} ${JSON.stringify(created.body)}`);
      const status = await api(bus, "GET", `/subscriptions/${name}`);
      subscriptions[name] = { queueUrl: status.body.queueUrl, dlqUrl: status.body.dlqUrl };
    }
    const poisonFilters = await putPoisonFilters(bus.httpUrl, bus.adminToken, violations);

    const sinks = { ordered: newSinkRecord(), unordered: newSinkRecord() };
    const consumers = Object.entries(subscriptions).map(([name, s]) =>
      startQueueConsumer(sqs, s.queueUrl, sinks[name as keyof typeof sinks]),
    );
    const wsClients = [
      await connectWsClient(bus.wsUrl, bus.adminToken, "$all"),
      await connectWsClient(bus.wsUrl, bus.adminToken, "category:chaos"),
    ];

    const BUS = "bus (http, ws gateway, broadcaster)";
    const STAND_INS = "stand-ins: fauxqs, dynalite (not judged)";
    const INSTRUMENT = "chaos instrument (not judged)";
    const memory = new Map<string, ProcessSample[]>([
      [BUS, []],
      ["listener", []],
      ["postgres (private memory, all backends)", []],
      [STAND_INS, []],
      [INSTRUMENT, []],
    ]);
    const sampleAll = async () => {
      const sample = await bus.sample().catch(() => undefined);
      if (sample) memory.get(BUS)!.push(sample.bus);
      if (sample?.listener) memory.get("listener")!.push(sample.listener);
      if (sample?.standIns) memory.get(STAND_INS)!.push(sample.standIns);
      if (sample?.postgres) memory.get("postgres (private memory, all backends)")!.push(sample.postgres);
      // The instrument keeps every event id it saw: it grows with the run by design.
      memory.get(INSTRUMENT)!.push(takeSample());
    };

    const startedAt = Date.now();
    const endAt = startedAt + options.seconds * 1000;
    let loadDone = false;
    const writers = runWriters({
      httpUrl: bus.httpUrl,
      token: bus.adminToken,
      writers: options.writers,
      streams: options.streams,
      rate: options.rate,
      poisonRate: options.poisonRate,
      random,
      until: () => Date.now() >= endAt,
      poisonAgain: () => Date.now() >= startedAt + options.seconds * 600,
      stats,
    }).finally(() => {
      loadDone = true;
    });

    // Faults on a fixed schedule: kills evenly spread, Postgres restarts between them.
    const schedule: Array<{ at: number; what: "kill" | "pg" | "filters" }> = [];
    for (let i = 0; i < options.kills; i++)
      schedule.push({ at: ((i + 0.5) / options.kills) * 0.9, what: "kill" });
    for (let i = 0; i < options.pgRestarts; i++)
      schedule.push({ at: ((i + 1) / (options.pgRestarts + 1)) * 0.9 + 0.02, what: "pg" });
    schedule.push({ at: 0.5, what: "filters" });
    schedule.sort((a, b) => a.at - b.at);
    const faults = (async () => {
      for (const step of schedule) {
        const wait = startedAt + step.at * options.seconds * 1000 - Date.now();
        if (wait > 0) await sleep(wait);
        if (step.what === "kill") {
          const killed = await bus.killListener();
          log(`listener killed and restarted (${killed})`);
        } else if (step.what === "pg") {
          await bus.restartPostgres(1000);
          pgRestarts++;
          log(`postgres restarted (${pgRestarts})`);
        } else {
          const again = await putPoisonFilters(bus.httpUrl, bus.adminToken, violations);
          poisonFilters.tried += again.tried;
          poisonFilters.refused += again.refused;
          poisonFilters.accepted.push(...again.accepted.filter((n) => !poisonFilters.accepted.includes(n)));
        }
      }
    })();

    // WebSocket clients that come and go during the load (best effort: reported, never judged).
    const churn = (async () => {
      while (!loadDone) {
        try {
          const topic =
            random() < 0.5 ? "category:chaos" : `stream:chaos-${Math.floor(random() * options.streams)}`;
          const client = await connectWsClient(bus.wsUrl, bus.adminToken, topic);
          transient.push(client);
          await sleep(500 + random() * 3000);
          client.close();
        } catch {
          await sleep(500);
        }
      }
    })();

    const sampler = (async () => {
      if (!options.soak) return;
      while (!loadDone) {
        await sampleAll();
        await sleep(options.soak.sampleSeconds * 1000);
      }
    })();

    let lastProgress = Date.now();
    while (!loadDone) {
      await sleep(1000);
      if (Date.now() - lastProgress >= 10_000) {
        lastProgress = Date.now();
        log(
          `t+${Math.round((Date.now() - startedAt) / 1000)}s appended ${stats.accepted.length}, ordered ${sinks.ordered.counts.size}, unordered ${sinks.unordered.counts.size}, ws $all ${wsClients[0]!.sink.counts.size}`,
        );
      }
    }
    await writers;
    await faults;
    await churn;
    await sampler;

    // Drain: faults stay on (transient errors must never stall anything), until every sink has everything.
    const loadEndedAt = Date.now();
    const accepted = stats.accepted;
    const acceptedIds = new Set(accepted.map((e) => e.id));
    log(`load done: ${accepted.length} events accepted; draining up to ${options.drainSeconds}s`);
    const drainUntil = Date.now() + options.drainSeconds * 1000;
    const complete = (sink: SinkRecord) => [...acceptedIds].every((id) => sink.counts.has(id));
    const realtimeLag = async () => {
      const [row] = await bus.sql<[{ lag: number }?]>`
        select (select coalesce(max(position), 0) from eventbus.events) - c.position as lag
        from eventbus.checkpoints c where c.name = '$realtime'`.catch(() => []);
      return row ? Number(row.lag) : 0;
    };
    // Persistent sinks and the realtime checkpoint first; WebSocket clients (best effort) get 10 s more.
    while (Date.now() < drainUntil) {
      if (complete(sinks.ordered) && complete(sinks.unordered) && (await realtimeLag()) === 0) break;
      await sleep(1000);
    }
    const wsUntil = Math.min(drainUntil, Date.now() + 10_000);
    while (Date.now() < wsUntil && !wsClients.every((c) => complete(c.sink))) await sleep(500);
    const drainedAt = Date.now();
    await sleep(2000); // late duplicates
    if (options.soak) await sampleAll();

    const subscriptionStatus = async (name: string) =>
      (await api(bus, "GET", `/subscriptions/${name}`)).body ?? {};
    const parkedOf = (status: any): number => {
      const parked = status?.parked;
      if (typeof parked === "number") return parked;
      if (typeof parked?.count === "number") return parked.count;
      if (typeof status?.parkedCount === "number") return status.parkedCount;
      return 0;
    };

    const reports: SinkReport[] = [];
    const parkedReasons = new Map<string, number>();
    for (const name of ["ordered", "unordered"] as const) {
      const sink = sinks[name];
      const status = await subscriptionStatus(name);
      const dlqIds = new Set(
        await readAllMessages(sqs, subscriptions[name]!.dlqUrl).catch(() => [] as string[]),
      );
      // Events the listener parked (SQS refused them for good) are visible, not lost: count them as parked.
      const parkedRows = await bus.sql<Array<{ event_id: string; reason: string }>>`
        select event_id, reason from eventbus.parked where name = ${name}`.catch(() => []);
      for (const row of parkedRows) {
        dlqIds.add(row.event_id);
        const reason = `${name}: ${row.reason.slice(0, 120)}`;
        parkedReasons.set(reason, (parkedReasons.get(reason) ?? 0) + 1);
      }
      const missingIds = [...acceptedIds].filter((id) => !sink.counts.has(id));
      const parkedInDlq = missingIds.filter((id) => dlqIds.has(id)).length;
      const parked = Math.min(missingIds.length, Math.max(parkedInDlq, parkedOf(status)));
      const duplicates = [...sink.counts.values()].reduce((sum, n) => sum + n - 1, 0);
      const lag = typeof status.lag === "number" ? status.lag : null;
      const report: SinkReport = {
        sink: `sqs ${name}${name === "ordered" ? " (FIFO)" : ""}`,
        expected: acceptedIds.size,
        delivered: [...sink.counts.keys()].filter((id) => acceptedIds.has(id)).length,
        missing: missingIds.length,
        parked,
        lost: missingIds.length - parked,
        duplicates,
        inversions: name === "ordered" ? countInversions(sink) : null,
        lag,
        stuck: lag === null || lag > 0,
      };
      reports.push(report);
      if (report.lost > 0) {
        const kinds = new Map<string, number>();
        const byId = new Map(accepted.map((e) => [e.id, e]));
        for (const id of missingIds) {
          const kind = byId.get(id)?.poison ?? "plain";
          kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        }
        violations.push(
          `${report.sink}: ${report.lost} accepted events lost (${[...kinds].map(([k, n]) => `${n} ${k}`).join(", ")}; first missing position ${Math.min(...missingIds.map((id) => byId.get(id)!.position))})`,
        );
      }
      // Nothing in this run is undeliverable (accepted means deliverable) and injected faults are transient,
      // which must never be parked: a parked event here is a finding, though not a loss.
      if (report.parked > 0) {
        violations.push(`${report.sink}: ${report.parked} accepted events parked instead of delivered`);
      }
      if (report.inversions)
        violations.push(`${report.sink}: ${report.inversions} order inversions within streams`);
      if (report.stuck)
        violations.push(
          `${report.sink}: stuck, lag ${lag} after the drain (checkpoint ${status.checkpoint}, head ${status.head})`,
        );
    }
    for (const name of poisonFilters.accepted) {
      const status = await subscriptionStatus(name);
      const lag = typeof status.lag === "number" ? status.lag : null;
      reports.push({
        sink: `sqs ${name} (accepted poison filter)`,
        expected: 0,
        delivered: 0,
        missing: 0,
        parked: parkedOf(status),
        lost: 0,
        duplicates: 0,
        inversions: null,
        lag,
        stuck: lag === null || lag > 0,
      });
      if (lag === null || lag > 0) violations.push(`subscription ${name}: stuck, lag ${lag} after the drain`);
    }
    // The realtime fan-out is forwarded like a subscription, under a checkpoint of its own.
    const [realtime] = await bus.sql<[{ position: number; head: number }?]>`
      select c.position::int8 as position, (select coalesce(max(position), 0)::int8 from eventbus.events) as head
      from eventbus.checkpoints c where c.name = '$realtime'`;
    if (realtime) {
      const lag = Number(realtime.head) - Number(realtime.position);
      reports.push({
        sink: "realtime fan-out ($realtime)",
        expected: acceptedIds.size,
        delivered: 0,
        missing: 0,
        parked: 0,
        lost: 0,
        duplicates: 0,
        inversions: null,
        lag,
        stuck: lag > 0,
      });
      if (lag > 0)
        violations.push(
          `realtime fan-out: stuck, lag ${lag} after the drain (checkpoint ${realtime.position})`,
        );
    }
    for (const client of wsClients) {
      const missing = [...acceptedIds].filter((id) => !client.sink.counts.has(id)).length;
      reports.push({
        sink: `ws ${client.topic}`,
        expected: acceptedIds.size,
        delivered: [...client.sink.counts.keys()].filter((id) => acceptedIds.has(id)).length,
        missing,
        parked: 0,
        lost: client.throughout ? missing : 0,
        duplicates: [...client.sink.counts.values()].reduce((sum, n) => sum + n - 1, 0),
        inversions: null,
        lag: null,
        stuck: false,
        connectedThroughout: client.throughout,
      });
    }

    for (const client of [...wsClients, ...transient]) client.close();
    for (const consumer of consumers) await consumer.stop();

    const poison: ChaosReport["poison"] = {};
    for (const kind of Object.keys(POISON_KINDS) as PoisonKind[]) {
      poison[kind] = {
        sent: stats.poisonSent.get(kind) ?? 0,
        accepted: stats.poisonAccepted.get(kind) ?? 0,
        refused: stats.poisonRefused.get(kind) ?? 0,
        expected: POISON_KINDS[kind].mustRefuse ? "refuse" : "accept",
      };
    }
    if ([...stats.statuses.keys()].some((s) => s >= 500)) {
      const fiveHundreds = [...stats.statuses].filter(([s]) => s >= 500);
      log(`note: appends answered ${fiveHundreds.map(([s, n]) => `${n}x ${s}`).join(", ")} (retried)`);
    }
    violations.push(...new Set(stats.violations));

    let memoryReports: MemoryReport[] | undefined;
    if (options.soak) {
      memoryReports = [...memory]
        .filter(([, samples]) => samples.length >= 4)
        .map(([name, samples]) => judgeMemory(name, samples));
      for (const m of memoryReports) {
        if (!m.levelsOff && m.process !== INSTRUMENT && m.process !== STAND_INS)
          violations.push(`memory: ${m.process}: ${m.reason}`);
      }
    }
    const busStats = await bus.stats();

    return {
      mode: options.soak ? "soak" : "chaos",
      seed: options.seed,
      seconds: options.seconds,
      appended: {
        requests: stats.requests,
        events: accepted.length,
        statuses: toRecord(stats.statuses),
        networkErrors: stats.networkErrors,
      },
      unexpectedRefusals: toRecord(stats.unexpectedRefusals),
      poison,
      poisonFilters,
      sinks: reports,
      transientWs: {
        clients: transient.length,
        events: transient.reduce((sum, c) => sum + c.sink.deliveries, 0),
        errors:
          transient.reduce((sum, c) => sum + c.errors.length, 0) +
          wsClients.reduce((sum, c) => sum + c.errors.length, 0),
      },
      faults: {
        listenerKills: busStats.listenerKills,
        listenerUnexpectedExits: busStats.listenerUnexpectedExits,
        postgresRestarts: pgRestarts,
        proxyCalls: busStats.proxy.calls,
        proxyRefused: busStats.proxy.refused,
        proxyResetBefore: busStats.proxy.resetBefore,
        proxyResetAfter: busStats.proxy.resetAfter,
      },
      timings: {
        startup: Math.round((startedAt - bootAt) / 100) / 10,
        load: Math.round((loadEndedAt - startedAt) / 100) / 10,
        drain: Math.round((drainedAt - loadEndedAt) / 100) / 10,
      },
      listenerProblems: [...busStats.listenerProblems]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([message, count]) => ({ message, count })),
      parkedReasons: [...parkedReasons].map(([message, count]) => ({ message, count })),
      handlerProblems: [...busStats.handlerProblems]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([message, count]) => ({ message, count })),
      ...(memoryReports ? { memory: memoryReports } : {}),
      violations,
      ok: violations.length === 0,
    };
  } finally {
    sqs.destroy();
    await bus.stop();
  }
}
