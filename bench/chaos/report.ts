import type { ChaosReport } from "./run.ts";

const cell = (value: unknown, width: number) => String(value ?? "-").padStart(width);

/** The report as a table for people; `--json` adds the same as one JSON object on the last line. */
export function formatReport(report: ChaosReport): string {
  const lines: string[] = [];
  const a = report.appended;
  const t = report.timings;
  lines.push(
    `\n${report.mode} report  (seed ${report.seed}; startup ${t.startup}s, load ${t.load}s, drained ${t.drain}s after the last append)`,
  );
  lines.push(
    `appended (2xx): ${a.events} events in ${a.requests} requests; answers ${Object.entries(a.statuses)
      .map(([s, n]) => `${s}x${n}`)
      .join(" ")}; network errors ${a.networkErrors} (all retried with the same ids)`,
  );
  if (Object.keys(report.unexpectedRefusals).length) {
    lines.push(`unexpected refusals: ${JSON.stringify(report.unexpectedRefusals)}`);
  }
  lines.push("");
  const head = [
    "sink",
    "expected",
    "delivered",
    "missing",
    "parked",
    "lost",
    "dupes",
    "inversions",
    "lag",
    "stuck",
  ];
  const widths = [40, 9, 10, 8, 7, 6, 6, 11, 6, 6];
  lines.push(head.map((h, i) => (i === 0 ? h.padEnd(widths[0]!) : cell(h, widths[i]!))).join(""));
  for (const s of report.sinks) {
    const name = s.connectedThroughout === false ? `${s.sink} (dropped)` : s.sink;
    const row = [
      name,
      s.expected,
      s.delivered,
      s.missing,
      s.parked,
      s.lost,
      s.duplicates,
      s.inversions,
      s.lag,
      s.stuck ? "YES" : "no",
    ];
    lines.push(row.map((v, i) => (i === 0 ? String(v).padEnd(widths[0]!) : cell(v, widths[i]!))).join(""));
  }
  lines.push(
    `(realtime fan-out: lag only; ws: best effort, losses count only for clients connected throughout; transient ws clients: ${report.transientWs.clients}, ${report.transientWs.events} events, ${report.transientWs.errors} error frames)`,
  );
  lines.push("");
  lines.push(
    `poison events: ${Object.entries(report.poison)
      .map(
        ([kind, p]) =>
          `${kind} ${p.sent} sent/${p.accepted} accepted/${p.refused} refused (must ${p.expected})`,
      )
      .join("; ")}`,
  );
  lines.push(
    `poison filters: ${report.poisonFilters.tried} tried, ${report.poisonFilters.refused} refused with 400${report.poisonFilters.accepted.length ? `, ACCEPTED: ${report.poisonFilters.accepted.join(", ")}` : ""}`,
  );
  const f = report.faults;
  lines.push(
    `faults: listener SIGKILLs ${f.listenerKills}, listener crashes ${f.listenerUnexpectedExits}, postgres restarts ${f.postgresRestarts}; SQS proxy ${f.proxyCalls} calls, ${f.proxyRefused} 500/503, ${f.proxyResetBefore} resets before, ${f.proxyResetAfter} resets after the call took effect`,
  );
  if (report.listenerProblems.length) {
    lines.push("listener warnings and errors (most frequent):");
    for (const p of report.listenerProblems) lines.push(`  ${String(p.count).padStart(6)}  ${p.message}`);
  }
  if (report.parkedReasons.length) {
    lines.push("parked (refused for good by SQS, visible and redrivable):");
    for (const p of report.parkedReasons) lines.push(`  ${String(p.count).padStart(6)}  ${p.message}`);
  }
  if (report.handlerProblems.length) {
    lines.push("handler (HTTP, WebSocket, broadcaster) warnings and errors (most frequent):");
    for (const p of report.handlerProblems) lines.push(`  ${String(p.count).padStart(6)}  ${p.message}`);
  }
  if (report.memory) {
    lines.push("");
    lines.push(
      `${"process".padEnd(48)}${cell("samples", 8)}${cell("RSS MB start->end", 19)}${cell("heap MB", 12)}${cell("handles", 11)}${cell("RSS slope 1st/2nd", 19)}${cell("heap slope", 16)}  verdict`,
    );
    for (const m of report.memory) {
      lines.push(
        `${m.process.padEnd(48)}${cell(m.samples, 8)}${cell(`${m.start.rssMB}->${m.end.rssMB}`, 19)}${cell(m.start.heapMB === null ? "-" : `${m.start.heapMB}->${m.end.heapMB}`, 12)}${cell(m.start.handles === null ? "-" : `${m.start.handles}->${m.end.handles}`, 11)}${cell(`${m.rssSlope[0]}/${m.rssSlope[1]}`, 19)}${cell(m.heapSlope ? `${m.heapSlope[0]}/${m.heapSlope[1]}` : "-", 16)}  ${m.reason}`,
      );
    }
    lines.push(
      "(slopes in MB/min over the two halves after a 10% warm-up; see judgeMemory in bench/chaos/run.ts)",
    );
  }
  lines.push("");
  if (report.ok) lines.push("RESULT: ok (0 lost, 0 inversions, 0 stuck, poison handled as promised)");
  else {
    lines.push(`RESULT: FAILED (${report.violations.length})`);
    for (const v of report.violations) lines.push(`  - ${v}`);
  }
  return lines.join("\n");
}
