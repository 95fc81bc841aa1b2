import { useEffect, useState } from "preact/hooks";
import { api, enc } from "./api.ts";
import { html } from "./html.ts";

interface ConnectionView {
  connectionId: string;
  subject: string;
  connectedAt: string;
  tokenExpiresAt: string | null;
  topics: string[];
}

/** Realtime: who is connected, to which topics, and who is present on a topic. */
export function RealtimeScreen() {
  const [connections, setConnections] = useState<ConnectionView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [topic, setTopic] = useState("");
  const [presence, setPresence] = useState<string | null>(null);

  const load = async () => {
    try {
      const all: ConnectionView[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor ? `?limit=500&cursor=${enc(cursor)}` : "?limit=500";
        const page: { connections: ConnectionView[]; next: string | null } = await api(
          `/realtime/connections${query}`,
        );
        all.push(...page.connections);
        cursor = page.next;
      } while (cursor && all.length < 5000);
      setConnections(all);
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  useEffect(() => {
    void load();
    const timer = setInterval(load, 5000);
    return () => clearInterval(timer);
  }, []);

  const topics = new Map<string, number>();
  for (const c of connections ?? []) for (const t of c.topics) topics.set(t, (topics.get(t) ?? 0) + 1);

  const lookUp = async (event: Event) => {
    event.preventDefault();
    try {
      setPresence(JSON.stringify(await api(`/topics/${enc(topic)}/presence`), null, 2));
    } catch (e) {
      setPresence(`${(e as Error).message}`);
    }
  };

  return html`
    <h2>Realtime</h2>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <div class="split">
      <table>
        <caption>${connections?.length ?? 0} WebSocket connection(s), refreshed every 5 s</caption>
        <thead><tr><th>Connection</th><th>Subject</th><th>Connected</th><th>Topics</th></tr></thead>
        <tbody>
          ${connections?.map(
            (c) => html`<tr>
              <td class="mono">${c.connectionId}</td>
              <td>${c.subject}</td>
              <td>${new Date(c.connectedAt).toLocaleTimeString()}</td>
              <td class="mono">${c.topics.join(", ") || "–"}</td>
            </tr>`,
          )}
        </tbody>
      </table>
      <div>
        <table>
          <caption>Topics with subscribers</caption>
          <thead><tr><th>Topic</th><th class="num">Connections</th></tr></thead>
          <tbody>
            ${[...topics]
              .sort(([a], [b]) => (a < b ? -1 : 1))
              .map(([t, n]) => html`<tr><td class="mono">${t}</td><td class="num">${n}</td></tr>`)}
          </tbody>
        </table>
        <form class="inline card" onSubmit=${lookUp}>
          <label>Presence on topic<input value=${topic} required onInput=${(e: Event) => setTopic((e.target as HTMLInputElement).value)} /></label>
          <button type="submit">Look up</button>
        </form>
        ${presence && html`<pre class="json" tabindex="0" aria-label="Presence">${presence}</pre>`}
      </div>
    </div>`;
}
