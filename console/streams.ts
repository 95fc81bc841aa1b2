import { useEffect, useState } from "preact/hooks";
import { ApiError, api, enc, pos } from "./api.ts";
import { html } from "./html.ts";
import { useNewestOnly } from "./newest.ts";

interface StreamSummary {
  streamId: string;
  category: string;
  version: number;
  updatedAt: string;
}
interface CloudEvent {
  id: string;
  type: string;
  source?: string;
  time?: string;
  subject?: string;
  datacontenttype?: string;
  data?: unknown;
  streamid?: string;
  streamversion?: number;
  position?: string | number;
  [attribute: string]: unknown;
}

const PAGE = 50;

/** Streams: search by prefix and category, keyset-paged, 50 a page (fast however many there are). */
export function StreamsScreen() {
  const [prefix, setPrefix] = useState("");
  const [category, setCategory] = useState("");
  const [cursors, setCursors] = useState<string[]>([""]);
  const [page, setPage] = useState<{ streams: StreamSummary[]; next: string | null } | null>(null);
  const [error, setError] = useState<string | null>(null);

  const begin = useNewestOnly();
  const load = async (after: string) => {
    const isNewest = begin();
    setError(null);
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (prefix) query.set("prefix", prefix);
    if (category) query.set("category", category);
    if (after) query.set("after", after);
    try {
      const result = await api<{ streams: StreamSummary[]; next: string | null }>(`/streams?${query}`);
      if (isNewest()) setPage(result);
    } catch (e) {
      if (isNewest()) setError((e as Error).message);
    }
  };
  useEffect(() => {
    void load("");
  }, []);

  const search = (event: Event) => {
    event.preventDefault();
    setCursors([""]);
    void load("");
  };
  const next = () => {
    if (!page?.next) return;
    setCursors([...cursors, page.next]);
    void load(page.next);
  };
  const previous = () => {
    const back = cursors.slice(0, -1);
    setCursors(back.length ? back : [""]);
    void load(back.at(-1) ?? "");
  };

  return html`
    <h2>Streams</h2>
    <form class="inline" role="search" onSubmit=${search}>
      <label>Stream id prefix<input value=${prefix} onInput=${(e: Event) => setPrefix((e.target as HTMLInputElement).value)} /></label>
      <label>Category<input value=${category} onInput=${(e: Event) => setCategory((e.target as HTMLInputElement).value)} /></label>
      <button type="submit">Search</button>
    </form>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <div class="split">
      <div>
        <table>
          <caption>Streams, in id order (${PAGE} a page)</caption>
          <thead><tr><th>Stream</th><th>Category</th><th class="num">Version</th><th>Updated</th></tr></thead>
          <tbody>
            ${page?.streams.map(
              (s) => html`<tr>
                <td><a href=${`#/streams/${enc(s.streamId)}`}>${s.streamId}</a></td>
                <td>${s.category}</td>
                <td class="num">${s.version}</td>
                <td>${new Date(s.updatedAt).toLocaleString()}</td>
              </tr>`,
            )}
          </tbody>
        </table>
        ${page && page.streams.length === 0 && html`<p class="muted">No streams match.</p>`}
        <div class="pager">
          <button class="secondary" onClick=${previous} disabled=${cursors.length <= 1}>Previous page</button>
          <button class="secondary" onClick=${next} disabled=${!page?.next}>Next page</button>
        </div>
      </div>
      <${AppendForm} />
    </div>`;
}

/** Append a test event to any stream, with the bus's answer (or its 4xx detail) shown inline. */
function AppendForm({ streamId, onAppended }: { streamId?: string; onAppended?: () => void }) {
  const [target, setTarget] = useState(streamId ?? "console-test");
  const [type, setType] = useState("ConsoleTest");
  const [data, setData] = useState('{\n  "hello": "world"\n}');
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      setResult({ ok: false, text: "Data is not valid JSON." });
      return;
    }
    try {
      const answer = await api<{ version: number; events: Array<{ position: unknown }> }>(
        `/streams/${enc(target)}/events`,
        { method: "POST", body: { type, data: parsed } },
      );
      setResult({
        ok: true,
        text: `Appended: version ${answer.version}, position ${pos(answer.events[0]?.position)}.`,
      });
      onAppended?.();
    } catch (e) {
      setResult({ ok: false, text: e instanceof ApiError ? `${e.code}: ${e.message}` : String(e) });
    }
  };
  return html`
    <form class="card" onSubmit=${submit} aria-labelledby="append-title">
      <h3 id="append-title">Append a test event</h3>
      <label>Stream id<input value=${target} required onInput=${(e: Event) => setTarget((e.target as HTMLInputElement).value)} /></label>
      <label>Event type<input value=${type} required onInput=${(e: Event) => setType((e.target as HTMLInputElement).value)} /></label>
      <label>Data (JSON)<textarea rows="5" value=${data} onInput=${(e: Event) => setData((e.target as HTMLTextAreaElement).value)}></textarea></label>
      <p><button type="submit">Append</button></p>
      <p role="status" class=${result?.ok ? "ok" : "error"}>${result?.text ?? ""}</p>
    </form>`;
}

/** One stream: read forward or backward a page at a time, pick an event to see it whole. */
export function StreamScreen({ streamId }: { streamId: string }) {
  const [direction, setDirection] = useState<"forward" | "backward">("forward");
  const [from, setFrom] = useState("");
  const [limit, setLimit] = useState(50);
  const [history, setHistory] = useState<string[]>([]);
  const [page, setPage] = useState<{ version: number; events: CloudEvent[]; next: number | null } | null>(
    null,
  );
  const [selected, setSelected] = useState<CloudEvent | null>(null);
  const [error, setError] = useState<string | null>(null);

  // Only the newest read may fill the page: an older one answering late (the first read of the screen, after
  // a Read with another page size) would otherwise replace it, and paging would go on from its cursor.
  const begin = useNewestOnly();
  const load = async (start: string, dir = direction) => {
    const isNewest = begin();
    setError(null);
    const query = new URLSearchParams({ limit: String(limit), direction: dir });
    if (start !== "") query.set("from", start);
    try {
      const result = await api<{ version: number; events: CloudEvent[]; next: number | null }>(
        `/streams/${enc(streamId)}/events?${query}`,
      );
      if (isNewest()) setPage(result);
    } catch (e) {
      if (!isNewest()) return;
      setError((e as Error).message);
      setPage(null);
    }
  };
  useEffect(() => {
    setHistory([]);
    setSelected(null);
    void load("");
  }, [streamId]);

  const read = (event: Event) => {
    event.preventDefault();
    setHistory([]);
    void load(from);
  };
  const next = () => {
    if (page?.next == null) return;
    setHistory([...history, from]);
    setFrom(String(page.next));
    void load(String(page.next));
  };
  const previous = () => {
    const back = history.at(-1) ?? "";
    setHistory(history.slice(0, -1));
    setFrom(back);
    void load(back);
  };

  return html`
    <p><a href="#/streams">← All streams</a></p>
    <h2>Stream <span class="mono">${streamId}</span> ${page && html`<span class="muted">(version ${page.version})</span>`}</h2>
    <form class="inline" onSubmit=${read}>
      <label>Direction
        <select value=${direction} onChange=${(e: Event) => {
          const value = (e.target as HTMLSelectElement).value as "forward" | "backward";
          setDirection(value);
          setHistory([]);
          void load(from, value);
        }}>
          <option value="forward">Forward (oldest first)</option>
          <option value="backward">Backward (newest first)</option>
        </select>
      </label>
      <label>From version<input inputmode="numeric" size="8" value=${from} onInput=${(e: Event) => setFrom((e.target as HTMLInputElement).value)} /></label>
      <label>Page size
        <select value=${String(limit)} onChange=${(e: Event) => setLimit(Number((e.target as HTMLSelectElement).value))}>
          <option>20</option><option>50</option><option>100</option><option>500</option>
        </select>
      </label>
      <button type="submit">Read</button>
    </form>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <div class="split">
      <div>
        <table>
          <caption>Events (select one to see it whole)</caption>
          <thead><tr><th class="num">Version</th><th class="num">Position</th><th>Type</th><th>Time</th></tr></thead>
          <tbody>
            ${page?.events.map(
              (ev) => html`<tr class=${selected?.id === ev.id ? "selected" : ""}>
                <td class="num">${ev.streamversion}</td>
                <td class="num">${pos(ev.position)}</td>
                <td><button class="secondary" aria-label=${`Show event ${ev.streamversion} (${ev.type})`} onClick=${() => setSelected(ev)}>${ev.type}</button></td>
                <td>${ev.time ? new Date(ev.time).toLocaleString() : ""}</td>
              </tr>`,
            )}
          </tbody>
        </table>
        <div class="pager">
          <button class="secondary" onClick=${previous} disabled=${history.length === 0}>Previous page</button>
          <button class="secondary" onClick=${next} disabled=${page?.next == null}>Next page</button>
        </div>
      </div>
      <div>
        ${selected ? html`<${EventDetail} event=${selected} />` : html`<p class="muted">No event selected.</p>`}
        <${AppendForm} streamId=${streamId} onAppended=${() => void load(from)} />
      </div>
    </div>`;
}

/** An event's CloudEvents attributes and its data, pretty-printed. */
export function EventDetail({ event }: { event: CloudEvent }) {
  const { data, ...attributes } = event;
  return html`
    <section class="card" aria-labelledby="detail-title">
      <h3 id="detail-title">Event ${event.id}</h3>
      <dl class="attrs">
        ${Object.entries(attributes).map(
          ([name, value]) =>
            html`<dt>${name}</dt><dd class="mono">${typeof value === "object" ? JSON.stringify(value) : String(value)}</dd>`,
        )}
      </dl>
      <h4>data</h4>
      <pre class="json" tabindex="0" aria-label="Event data">${"data" in event ? JSON.stringify(data, null, 2) : "(no data)"}</pre>
    </section>`;
}

export type { CloudEvent };
