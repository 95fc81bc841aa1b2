import { useEffect, useState } from "preact/hooks";
import { ApiError, api, pos } from "./api.ts";
import { html } from "./html.ts";

interface CaptureStatus {
  name: string;
  table: string;
  slot: string;
  active: boolean;
  lagBytes: number;
  lagSeconds: number;
  lastError: string | null;
}
interface OperatorStatus {
  name: string;
  checkpoint: number | string;
  head: number | string;
  lag: number;
  parked: number;
  lastError: string | null;
  owner: string | null;
}

/** Fetches a listing, or says why not (an older bus without the route answers 404). */
function useListing<T>(path: string, key: string) {
  const [rows, setRows] = useState<T[] | null>(null);
  const [note, setNote] = useState<string | null>(null);
  useEffect(() => {
    let stopped = false;
    const load = async () => {
      try {
        const body = await api<Record<string, T[]>>(path);
        if (!stopped) {
          setRows(body[key] ?? []);
          setNote(null);
        }
      } catch (e) {
        if (stopped) return;
        setRows(null);
        setNote(
          e instanceof ApiError && e.status === 404 ? "This bus has no such route." : (e as Error).message,
        );
      }
    };
    void load();
    const timer = setInterval(load, 5000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [path]);
  return { rows, note };
}

const bytes = (n: number) =>
  n >= 1024 ** 3
    ? `${(n / 1024 ** 3).toFixed(1)} GiB`
    : n >= 1024 ** 2
      ? `${(n / 1024 ** 2).toFixed(1)} MiB`
      : n >= 1024
        ? `${(n / 1024).toFixed(1)} KiB`
        : `${n} B`;

/** Change captures (replication slot lag) and operators (checkpoint lag, parked), refreshed every 5 s. */
export function CapturesScreen() {
  const captures = useListing<CaptureStatus>("/captures", "captures");
  const operators = useListing<OperatorStatus>("/operators", "operators");
  return html`
    <h2>Captures and operators</h2>
    <h3>Change captures</h3>
    ${captures.note && html`<p class="muted" role="status">${captures.note}</p>`}
    ${
      captures.rows &&
      html`<table>
      <caption>${captures.rows.length} capture(s), refreshed every 5 s</caption>
      <thead><tr><th>Name</th><th>Table</th><th>Slot</th><th>Active</th><th class="num">Lag</th><th class="num">Lag (s)</th><th>Last error</th></tr></thead>
      <tbody>
        ${captures.rows.map(
          (c) => html`<tr>
            <td>${c.name}</td><td class="mono">${c.table}</td><td class="mono">${c.slot}</td>
            <td>${c.active ? "yes" : "no"}</td><td class="num">${bytes(c.lagBytes)}</td>
            <td class="num">${c.lagSeconds}</td><td class=${c.lastError ? "error" : ""}>${c.lastError ?? "–"}</td>
          </tr>`,
        )}
      </tbody>
    </table>`
    }
    <h3>Operators</h3>
    ${operators.note && html`<p class="muted" role="status">${operators.note}</p>`}
    ${
      operators.rows &&
      html`<table>
      <caption>${operators.rows.length} operator(s), refreshed every 5 s</caption>
      <thead><tr><th>Name</th><th class="num">Checkpoint</th><th class="num">Head</th><th class="num">Lag</th><th class="num">Parked</th><th>Owner</th><th>Last error</th></tr></thead>
      <tbody>
        ${operators.rows.map(
          (o) => html`<tr>
            <td>${o.name}</td><td class="num">${pos(o.checkpoint)}</td><td class="num">${pos(o.head)}</td>
            <td class="num">${o.lag}</td><td class="num">${o.parked}</td><td class="mono">${o.owner ?? "none"}</td>
            <td class=${o.lastError ? "error" : ""}>${o.lastError ?? "–"}</td>
          </tr>`,
        )}
      </tbody>
    </table>`
    }`;
}
