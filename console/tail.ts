import { useEffect, useRef, useState } from "preact/hooks";
import { consoleSettings, pos, session } from "./api.ts";
import { html } from "./html.ts";
import { type CloudEvent, EventDetail } from "./streams.ts";

/** Kept in memory; only the newest `SHOWN` are rendered, so a fast stream never slows the page down. */
const KEEP = 10_000;
const SHOWN = 300;

type Status = "disconnected" | "connecting" | "live" | "paused";

/**
 * Live tail over the WebSocket API: `$all`, a category or a stream, an optional EventBridge pattern,
 * an optional position to resume from; pause buffers events, resume shows them.
 */
export function TailScreen() {
  const [kind, setKind] = useState<"$all" | "category" | "stream">("$all");
  const [name, setName] = useState("");
  const [filter, setFilter] = useState("");
  const [from, setFrom] = useState("");
  const [status, setStatus] = useState<Status>("disconnected");
  const [error, setError] = useState<string | null>(null);
  const [events, setEvents] = useState<CloudEvent[]>([]);
  const [buffered, setBuffered] = useState(0);
  const [selected, setSelected] = useState<CloudEvent | null>(null);
  const socket = useRef<WebSocket | null>(null);
  const paused = useRef(false);
  const buffer = useRef<CloudEvent[]>([]);
  const lastPosition = useRef<string | null>(null);

  useEffect(() => () => socket.current?.close(), []);

  const topic = () => (kind === "$all" ? "$all" : `${kind}:${name}`);

  const connect = async (event?: Event, resumeFrom?: string) => {
    event?.preventDefault();
    setError(null);
    let pattern: unknown;
    if (filter.trim()) {
      try {
        pattern = JSON.parse(filter);
      } catch {
        setError('The filter is not valid JSON (an EventBridge pattern such as {"type": ["OrderPlaced"]}).');
        return;
      }
    }
    if (kind !== "$all" && !name) {
      setError(`Enter the ${kind} to tail.`);
      return;
    }
    socket.current?.close();
    const { webSocketUrl } = await consoleSettings();
    if (!webSocketUrl) {
      setError("This console does not know the WebSocket API's URL.");
      return;
    }
    setStatus("connecting");
    const ws = new WebSocket(`${webSocketUrl}?token=${encodeURIComponent(session.token ?? "")}`);
    socket.current = ws;
    const start = resumeFrom ?? from;
    ws.onopen = () => {
      ws.send(
        JSON.stringify({
          action: "subscribe",
          id: "tail",
          topic: topic(),
          ...(pattern === undefined ? {} : { filter: pattern }),
          ...(start === "" ? {} : { from: /^\d+$/.test(start) ? Number(start) : start }),
        }),
      );
    };
    ws.onmessage = (message) => {
      const frame = JSON.parse(String(message.data)) as {
        type: string;
        id?: string;
        code?: string;
        message?: string;
        events?: CloudEvent[];
      };
      if (frame.type === "ack" && frame.id === "tail") setStatus(paused.current ? "paused" : "live");
      else if (frame.type === "error") setError(`${frame.code}: ${frame.message}`);
      else if (frame.type === "events" && frame.events) {
        const last = frame.events.at(-1);
        if (last?.position !== undefined) lastPosition.current = pos(last.position);
        if (paused.current) {
          buffer.current.push(...frame.events);
          setBuffered(buffer.current.length);
        } else {
          setEvents((current) => [...frame.events!.slice().reverse(), ...current].slice(0, KEEP));
        }
      }
    };
    ws.onclose = () => {
      if (socket.current === ws) setStatus("disconnected");
    };
    ws.onerror = () => setError("The WebSocket connection failed.");
  };

  const pause = () => {
    paused.current = true;
    setStatus("paused");
  };
  const resume = () => {
    paused.current = false;
    const pending = buffer.current.splice(0);
    setBuffered(0);
    setEvents((current) => [...pending.reverse(), ...current].slice(0, KEEP));
    setStatus(socket.current?.readyState === WebSocket.OPEN ? "live" : "disconnected");
  };
  const disconnect = () => {
    socket.current?.close();
    socket.current = null;
    setStatus("disconnected");
  };
  const reconnectFromLast = () => {
    if (lastPosition.current) {
      setFrom(lastPosition.current);
      void connect(undefined, lastPosition.current);
    }
  };

  return html`
    <h2>Live tail</h2>
    <form class="inline" onSubmit=${connect}>
      <label>Source
        <select value=${kind} onChange=${(e: Event) => setKind((e.target as HTMLSelectElement).value as typeof kind)}>
          <option value="$all">$all (every event)</option>
          <option value="category">A category</option>
          <option value="stream">A stream</option>
        </select>
      </label>
      ${kind !== "$all" && html`<label>${kind === "category" ? "Category" : "Stream id"}<input value=${name} onInput=${(e: Event) => setName((e.target as HTMLInputElement).value)} /></label>`}
      <label>Filter (EventBridge pattern, optional)<textarea rows="1" cols="36" value=${filter} placeholder='{"type": ["OrderPlaced"]}' onInput=${(e: Event) => setFilter((e.target as HTMLTextAreaElement).value)}></textarea></label>
      <label>From position (optional)<input size="10" inputmode="numeric" value=${from} onInput=${(e: Event) => setFrom((e.target as HTMLInputElement).value)} /></label>
      <button type="submit">${status === "disconnected" ? "Start tail" : "Restart tail"}</button>
      ${status === "paused" ? html`<button type="button" onClick=${resume}>Resume</button>` : html`<button type="button" class="secondary" onClick=${pause} disabled=${status !== "live"}>Pause</button>`}
      <button type="button" class="secondary" onClick=${disconnect} disabled=${status === "disconnected"}>Stop</button>
      <button type="button" class="secondary" onClick=${reconnectFromLast} disabled=${!lastPosition.current}>Reconnect from last position</button>
      <button type="button" class="secondary" onClick=${() => setEvents([])}>Clear</button>
    </form>
    <p role="status">
      Status: <strong>${status}</strong> · ${events.length} event(s)${buffered ? ` · ${buffered} waiting while paused` : ""}
      ${lastPosition.current ? ` · last position ${lastPosition.current}` : ""}
    </p>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <div class="split">
      <div class="tail" tabindex="0" aria-label="Tailed events, newest first">
        <table>
          <thead><tr><th class="num">Position</th><th>Stream</th><th class="num">Version</th><th>Type</th><th>Time</th></tr></thead>
          <tbody>
            ${events.slice(0, SHOWN).map(
              (ev) => html`<tr key=${ev.id} class=${selected?.id === ev.id ? "selected" : ""}>
                <td class="num">${pos(ev.position)}</td>
                <td class="mono">${ev.streamid ?? ev.subject}</td>
                <td class="num">${ev.streamversion}</td>
                <td><button class="secondary" onClick=${() => setSelected(ev)}>${ev.type}</button></td>
                <td>${ev.time ? new Date(ev.time).toLocaleTimeString() : ""}</td>
              </tr>`,
            )}
          </tbody>
        </table>
        ${events.length > SHOWN && html`<p class="muted">Showing the newest ${SHOWN} of ${events.length}.</p>`}
      </div>
      <div>${selected ? html`<${EventDetail} event=${selected} />` : html`<p class="muted">Select an event to see it whole.</p>`}</div>
    </div>`;
}
