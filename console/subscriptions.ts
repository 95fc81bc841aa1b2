import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { ApiError, api, enc, pos } from "./api.ts";
import { html } from "./html.ts";
import { useNewestOnly } from "./newest.ts";

interface SubscriptionStatus {
  name: string;
  filter: unknown;
  ordering: string;
  state?: string;
  checkpoint: number | string;
  head: number | string;
  lag: number;
  queueDepth: number | null;
  dlqDepth: number | null;
  owner: string | null;
  parked: number;
  lastParkedReason: string | null;
  failingSince?: string | null;
  lastError?: string | null;
  lastErrorAt?: string | null;
}
interface ParkedEvent {
  position: string;
  eventId: string;
  streamId: string | null;
  type: string | null;
  reason: string;
  parkedAt: string;
}

interface DeadLetter {
  messageId: string;
  body: string;
  bodyBytes: number;
  truncated: boolean;
  receiveCount: number;
  firstReceivedAt: string | null;
  sentAt: string | null;
  attributes: Record<string, string>;
}

/** A DLQ body as readable as it gets: pretty JSON when it parses (a cut body does not), else the text. */
function prettyBody(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}
const time = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : "–");

/** The DLQ's messages, looked at (not taken) whenever its depth changes: SQS has no other way to browse. */
function DeadLetters({ name, depth }: { name: string; depth: number | null | undefined }) {
  const [letters, setLetters] = useState<DeadLetter[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const begin = useNewestOnly();
  useEffect(() => {
    const isNewest = begin();
    const load = async () => {
      try {
        const answer = await api<{ deadLetters: DeadLetter[] }>(
          `/subscriptions/${enc(name)}/dead-letters?limit=20`,
        );
        if (!isNewest()) return;
        setLetters(answer.deadLetters);
        setError(null);
      } catch (e) {
        if (isNewest()) setError((e as Error).message);
      }
    };
    void load();
  }, [name, depth]);
  return html`<section class="card" aria-labelledby="dlq-title">
    <h3 id="dlq-title">Dead-letter queue</h3>
    <p class="muted">Messages a consumer failed on maxReceiveCount times, oldest first (up to 20; looking counts as a receive). Redrive moves them back to the queue.</p>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <table>
      <thead><tr><th>Message</th><th>Stream</th><th>Type</th><th class="num">Position</th><th class="num">Receives</th><th>First received</th><th>Sent</th></tr></thead>
      <tbody>
        ${letters?.map(
          (d) => html`<tr data-dead-letter=${d.messageId}>
            <td>
              <details>
                <summary class="mono">${d.messageId.slice(0, 8)}…</summary>
                <pre class="json" tabindex="0" aria-label=${`Body of message ${d.messageId}`}>${prettyBody(d.body)}</pre>
                ${d.truncated && html`<p class="muted">First ${d.body.length} characters of ${d.bodyBytes} bytes.</p>`}
              </details>
            </td>
            <td class="mono">${d.attributes.streamid ?? "?"}</td>
            <td>${d.attributes.type ?? "?"}</td>
            <td class="num">${d.attributes.position ?? ""}</td>
            <td class="num" data-cell="receives">${d.receiveCount}</td>
            <td>${time(d.firstReceivedAt)}</td>
            <td>${time(d.sentAt)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${letters && letters.length === 0 && html`<p class="muted">The DLQ is empty.</p>`}
  </section>`;
}

/** The state the bus reports, or one derived from the figures when it reports none. */
const stateOf = (s: SubscriptionStatus): string =>
  s.state ?? (s.owner === null ? "unowned" : s.parked > 0 ? "parked" : s.lag > 0 ? "behind" : "active");

/**
 * Lag samples, taken by this browser every 2 s while a subscriptions screen is open: one shared time axis,
 * one series per subscription (null before it existed). The bus keeps no lag history of its own (on AWS
 * the CloudWatch dashboard has it, locally any Prometheus scraper of /metrics), so the samples are kept in
 * localStorage for an hour: the chart survives a reload or another tab, but covers only the time some
 * console page was open.
 */
const SAMPLES = 1800;
const KEEP_SECONDS = 3600;
const STORE_KEY = "eventbus.console.lag";
const times: number[] = [];
const lags = new Map<string, Array<number | null>>();

function restoreSamples() {
  try {
    const stored = JSON.parse(localStorage.getItem(STORE_KEY) ?? "null") as {
      times?: unknown;
      lags?: unknown;
    } | null;
    if (!stored || !Array.isArray(stored.times) || typeof stored.lags !== "object" || !stored.lags) return;
    const keepFrom = Date.now() / 1000 - KEEP_SECONDS;
    const first = stored.times.findIndex((t) => typeof t === "number" && t >= keepFrom);
    if (first < 0) return;
    times.push(...(stored.times.slice(first) as number[]));
    for (const [name, series] of Object.entries(stored.lags as Record<string, unknown>)) {
      if (Array.isArray(series) && series.length === stored.times.length) {
        lags.set(name, series.slice(first) as Array<number | null>);
      }
    }
  } catch {
    // Unreadable or from another version: start afresh.
  }
}
restoreSamples();

function storeSamples() {
  try {
    localStorage.setItem(STORE_KEY, JSON.stringify({ times, lags: Object.fromEntries(lags) }));
  } catch {
    // Storage full or disabled: the chart still works for this page.
  }
}

function sample(statuses: SubscriptionStatus[]) {
  times.push(Date.now() / 1000);
  for (const series of lags.values()) series.push(null);
  for (const s of statuses) {
    let series = lags.get(s.name);
    if (!series) {
      series = times.map(() => null);
      lags.set(s.name, series);
    }
    series[series.length - 1] = s.lag;
  }
  const keepFrom = Date.now() / 1000 - KEEP_SECONDS;
  while (times.length > SAMPLES || (times.length > 0 && times[0]! < keepFrom)) {
    times.shift();
    for (const series of lags.values()) series.shift();
  }
  // A subscription deleted over an hour ago has nothing left to draw.
  for (const [name, series] of lags) if (series.every((v) => v === null)) lags.delete(name);
  storeSamples();
}

/**
 * The subscriptions' figures, polled every 2 s, or every 250 ms while `fast` (a redrive is running, so its
 * progress bar follows the parked count and DLQ depth as they fall rather than jumping at the end).
 */
function usePolledSubscriptions(fast = false) {
  const [statuses, setStatuses] = useState<SubscriptionStatus[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const fastRef = useRef(fast);
  fastRef.current = fast;
  const pollNow = useRef<() => void>(() => {});
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout>;
    let polling = false;
    const poll = async () => {
      if (polling) return;
      polling = true;
      clearTimeout(timer);
      try {
        const answer = await api<{ subscriptions: SubscriptionStatus[] } | SubscriptionStatus[]>(
          "/subscriptions",
        );
        const list = Array.isArray(answer) ? answer : answer.subscriptions;
        sample(list);
        if (!stopped) {
          setStatuses(list);
          setError(null);
          setTick((t) => t + 1);
        }
      } catch (e) {
        if (!stopped) setError((e as Error).message);
      }
      polling = false;
      if (!stopped) timer = setTimeout(poll, fastRef.current ? 250 : 2000);
    };
    pollNow.current = () => void poll();
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);
  useEffect(() => {
    if (fast) pollNow.current();
  }, [fast]);
  return { statuses, error, tick, refresh: () => setTick((t) => t + 1) };
}

const COLORS = ["#0b57d0", "#b3261e", "#146c2e", "#8a5300", "#6b2fa3", "#00696f", "#a3386b", "#4a5561"];

/** Lag over time, one line per subscription (uPlot: a few kB, fast with thousands of points). */
function LagChart({ tick, only }: { tick: number; only?: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const names = [...lags.keys()].filter((n) => only === undefined || n === only).slice(0, COLORS.length);
  const key = names.join("|");
  useEffect(() => {
    if (!box.current) return;
    plot.current?.destroy();
    plot.current = new uPlot(
      {
        width: Math.max(320, box.current.clientWidth - 10),
        height: 220,
        series: [{}, ...names.map((name, i) => ({ label: name, stroke: COLORS[i]!, width: 2 }))],
        axes: [{}, { label: "lag (events)" }],
        scales: { y: { range: (_u: uPlot, _min: number, max: number) => [0, Math.max(1, max)] } },
      },
      [times.slice(), ...names.map((n) => lags.get(n)!.slice())] as uPlot.AlignedData,
      box.current,
    );
    return () => plot.current?.destroy();
  }, [key]);
  useEffect(() => {
    plot.current?.setData([times.slice(), ...names.map((n) => lags.get(n)!.slice())] as uPlot.AlignedData);
  }, [tick]);
  const since = times[0] === undefined ? "" : new Date(times[0] * 1000).toLocaleTimeString();
  return html`<figure class="card chart">
    <figcaption>
      Lag over time <span class="muted" data-cell="lag-samples">(${times.length} samples since ${since}, taken by this browser every 2 s while the console is open, kept for an hour)</span>
    </figcaption>
    <div ref=${box} role="img" aria-label=${`Line chart of lag in events over time for ${names.join(", ") || "no subscriptions"}`}></div>
  </figure>`;
}

/** Subscriptions: live figures, lag chart, and a create form validated by the bus itself. */
export function SubscriptionsScreen() {
  const { statuses, error, tick, refresh } = usePolledSubscriptions();
  return html`
    <h2>Subscriptions</h2>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <table>
      <caption>Every subscription, refreshed every 2 s</caption>
      <thead><tr>
        <th>Name</th><th>State</th><th class="num">Checkpoint</th><th class="num">Head</th><th class="num">Lag</th>
        <th class="num">Queue</th><th class="num">DLQ</th><th class="num">Parked</th><th>Owner</th>
      </tr></thead>
      <tbody>
        ${statuses?.map(
          (s) => html`<tr data-subscription=${s.name}>
            <td><a href=${`#/subscriptions/${enc(s.name)}`}>${s.name}</a></td>
            <td><span class=${`badge ${stateOf(s)}`}>${stateOf(s)}</span></td>
            <td class="num">${pos(s.checkpoint)}</td>
            <td class="num">${pos(s.head)}</td>
            <td class="num" data-cell="lag">${s.lag}</td>
            <td class="num">${s.queueDepth ?? "–"}</td>
            <td class="num">${s.dlqDepth ?? "–"}</td>
            <td class="num">${s.parked}</td>
            <td class="mono">${s.owner ?? "none"}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${statuses && statuses.length === 0 && html`<p class="muted">No subscriptions yet: create one below.</p>`}
    <div class="split">
      <${LagChart} tick=${tick} />
      <${CreateSubscription} onCreated=${refresh} />
    </div>`;
}

function CreateSubscription({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState("");
  const [filter, setFilter] = useState("");
  const [startFrom, setStartFrom] = useState("origin");
  const [ordering, setOrdering] = useState("none");
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    const body: Record<string, unknown> = { ordering };
    if (filter.trim()) {
      try {
        body.filter = JSON.parse(filter);
      } catch {
        setResult({ ok: false, text: "The filter is not valid JSON." });
        return;
      }
    }
    body.startFrom = /^\d+$/.test(startFrom) ? Number(startFrom) : startFrom;
    try {
      await api(`/subscriptions/${enc(name)}`, { method: "PUT", body });
      setResult({ ok: true, text: `Subscription '${name}' is ready.` });
      onCreated();
    } catch (e) {
      setResult({ ok: false, text: e instanceof ApiError ? `${e.code}: ${e.message}` : String(e) });
    }
  };
  return html`
    <form class="card" onSubmit=${submit} aria-labelledby="create-title">
      <h3 id="create-title">Create a subscription</h3>
      <label>Name<input value=${name} required onInput=${(e: Event) => setName((e.target as HTMLInputElement).value)} /></label>
      <label>Filter (EventBridge pattern, optional)<textarea rows="3" value=${filter} placeholder='{"type": ["OrderPlaced"]}' onInput=${(e: Event) => setFilter((e.target as HTMLTextAreaElement).value)}></textarea></label>
      <label>Start from ("origin", "current" or a position)<input value=${startFrom} onInput=${(e: Event) => setStartFrom((e.target as HTMLInputElement).value)} /></label>
      <label>Ordering
        <select value=${ordering} onChange=${(e: Event) => setOrdering((e.target as HTMLSelectElement).value)}>
          <option value="none">none (standard queue)</option>
          <option value="stream">stream (FIFO queue, per-stream order)</option>
        </select>
      </label>
      <p><button type="submit">Create subscription</button></p>
      <p role="status" aria-live="polite" class=${result?.ok ? "ok" : "error"}>${result?.text ?? ""}</p>
    </form>`;
}

/** One subscription: figures, lag chart, replay with progress, parked events and redrive with progress. */
export function SubscriptionScreen({ name }: { name: string }) {
  const [redrive, setRedrive] = useState<{ total: number; sent: number; running: boolean } | null>(null);
  const { statuses, error, tick, refresh } = usePolledSubscriptions(redrive?.running === true);
  const status = statuses?.find((s) => s.name === name);
  const [replayFrom, setReplayFrom] = useState("0");
  const [replay, setReplay] = useState<{ from: number; to: number } | null>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [parked, setParked] = useState<ParkedEvent[] | null>(null);

  const begin = useNewestOnly();
  const loadParked = async () => {
    const isNewest = begin();
    try {
      const answer = await api<{ parked: ParkedEvent[] }>(`/subscriptions/${enc(name)}/parked?limit=200`);
      if (isNewest()) setParked(answer.parked);
    } catch (e) {
      if (isNewest()) setMessage({ ok: false, text: (e as Error).message });
    }
  };
  useEffect(() => {
    void loadParked();
  }, [name, status?.parked]);

  const startReplay = async (event: Event) => {
    event.preventDefault();
    try {
      const from = Number(replayFrom);
      await api(`/subscriptions/${enc(name)}/replay`, { method: "POST", body: { from } });
      setReplay({ from, to: Number(status?.head ?? 0) });
      setMessage({ ok: true, text: `Replaying from position ${from}.` });
      refresh();
    } catch (e) {
      setMessage({ ok: false, text: e instanceof ApiError ? `${e.code}: ${e.message}` : String(e) });
    }
  };
  // One redrive call works for up to 20 s and says whether it drained everything; a larger backlog takes
  // several calls. Meanwhile the figures are polled every 250 ms, so the bar moves as they fall.
  const startRedrive = async () => {
    const total = (status?.parked ?? 0) + (status?.dlqDepth ?? 0);
    setRedrive({ total, sent: 0, running: true });
    const sum = { redriven: 0, moved: 0, stillParked: 0 };
    try {
      for (let call = 0; call < 50; call++) {
        const result = await api<{ redriven: number; stillParked: number; moved: number; drained: boolean }>(
          `/subscriptions/${enc(name)}/redrive`,
          { method: "POST" },
        );
        sum.redriven += result.redriven;
        sum.moved += result.moved;
        sum.stillParked = result.stillParked;
        setRedrive((r) => (r ? { ...r, sent: sum.redriven + sum.moved } : r));
        if (result.drained || result.redriven + result.moved === 0) break;
      }
      setMessage({
        ok: sum.stillParked === 0,
        text: `Redrive done: ${sum.redriven} parked event(s) sent again, ${sum.moved} DLQ message(s) moved back, ${sum.stillParked} still parked.`,
      });
    } catch (e) {
      setMessage({ ok: false, text: (e as Error).message });
    }
    setRedrive((r) => (r ? { ...r, total: Math.max(r.total, sum.redriven + sum.moved), running: false } : r));
    void loadParked();
  };

  const checkpoint = Number(status?.checkpoint ?? 0);
  const replayDone = replay
    ? Math.min(1, (checkpoint - replay.from) / Math.max(1, replay.to - replay.from))
    : 0;
  const remaining = (status?.parked ?? 0) + (status?.dlqDepth ?? 0);
  const redriveDone = redrive
    ? redrive.running
      ? Math.min(redrive.total, Math.max(redrive.sent, redrive.total - remaining))
      : redrive.total
    : 0;

  return html`
    <p><a href="#/subscriptions">← All subscriptions</a></p>
    <h2>Subscription <span class="mono">${name}</span> ${status && html`<span class=${`badge ${stateOf(status)}`}>${stateOf(status)}</span>`}</h2>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${statuses && !status && html`<p class="error" role="alert">No subscription named '${name}'.</p>`}
    ${
      status &&
      html`<dl class="attrs">
      ${status.failingSince && html`<dt>Failing since</dt><dd class="error" data-cell="failing">${new Date(status.failingSince).toLocaleString()}: ${status.lastError}</dd>`}
      ${!status.failingSince && status.lastError && html`<dt>Last send error</dt><dd data-cell="last-error">${status.lastErrorAt ? new Date(status.lastErrorAt).toLocaleString() : ""}: ${status.lastError}</dd>`}
      <dt>Checkpoint</dt><dd>${pos(status.checkpoint)}</dd>
      <dt>Head</dt><dd>${pos(status.head)}</dd>
      <dt>Lag</dt><dd data-cell="lag">${status.lag}</dd>
      <dt>Queue / DLQ</dt><dd>${status.queueDepth ?? "–"} / ${status.dlqDepth ?? "–"}</dd>
      <dt>Parked</dt><dd data-cell="parked">${status.parked}</dd>
      <dt>Owner</dt><dd class="mono">${status.owner ?? "none"}</dd>
      <dt>Filter</dt><dd class="mono">${JSON.stringify(status.filter)}</dd>
      <dt>Ordering</dt><dd>${status.ordering}</dd>
    </dl>`
    }
    <p role="status" aria-live="polite" class=${message?.ok ? "ok" : "error"}>${message?.text ?? ""}</p>
    <div class="split">
      <div>
        <${LagChart} tick=${tick} only=${name} />
        <form class="inline card" onSubmit=${startReplay} aria-label="Replay">
          <label>Replay from position<input inputmode="numeric" size="10" value=${replayFrom} onInput=${(e: Event) => setReplayFrom((e.target as HTMLInputElement).value)} /></label>
          <button type="submit">Replay</button>
          ${replay && html`<label>Replay progress<progress max="100" value=${Math.round(replayDone * 100)}>${Math.round(replayDone * 100)}%</progress></label>`}
        </form>
      </div>
      <section class="card" aria-labelledby="parked-title">
        <h3 id="parked-title">Parked events and dead letters</h3>
        <p class="muted">Events SQS refused for good, with its reason; redrive sends them (and the DLQ's messages) again.</p>
        <p>
          <button onClick=${startRedrive} disabled=${redrive?.running}>Redrive</button>
          ${redrive && html` <label class="visually-hidden" for="redrive-progress">Redrive progress</label><progress id="redrive-progress" max=${Math.max(1, redrive.total)} value=${redriveDone}></progress> <span data-cell="redrive">${redriveDone} of ${redrive.total} ${redrive.running ? "redriving…" : "done"}</span>`}
        </p>
        <table>
          <thead><tr><th class="num">Position</th><th>Stream</th><th>Type</th><th>Reason</th><th>Parked</th></tr></thead>
          <tbody>
            ${parked?.map(
              (p) => html`<tr>
                <td class="num">${p.position}</td>
                <td class="mono">${p.streamId ?? "?"}</td>
                <td>${p.type ?? "?"}</td>
                <td>${p.reason}</td>
                <td>${new Date(p.parkedAt).toLocaleTimeString()}</td>
              </tr>`,
            )}
          </tbody>
        </table>
        ${parked && parked.length === 0 && html`<p class="muted">Nothing parked.</p>`}
      </section>
    </div>
    ${status && html`<${DeadLetters} name=${name} depth=${status.dlqDepth} />`}`;
}
