import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import type { ChaosReport } from "../../bench/chaos/run.ts";

/**
 * The short variant of `npm run chaos` (issue 9): the whole bus in a process of its own (its own Postgres,
 * which it restarts; the listener as a child, which it SIGKILLs; a fault-injecting proxy in front of SQS),
 * 8 writers over 50 streams, poison events and filters. It asserts the run's exit criteria, not timings.
 */
function runChaos(args: string[]): Promise<{ code: number | null; report: ChaosReport; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "bench/chaos.ts", ...args, "--json"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once("error", reject);
    child.once("exit", (code) => {
      const last = stdout.trim().split("\n").at(-1) ?? "";
      try {
        resolve({ code, report: JSON.parse(last) as ChaosReport, output: stdout });
      } catch {
        reject(
          new Error(`chaos run printed no JSON report (exit ${code}):\n${stdout}\n${stderr.slice(-4000)}`),
        );
      }
    });
  });
}

describe("chaos: listener SIGKILLs, a Postgres restart, SQS faults, poison", () => {
  it("loses nothing accepted, keeps stream order, leaves nothing stuck, and handles poison as promised", async () => {
    const { code, report, output } = await runChaos([
      "--seconds",
      "20",
      "--kills",
      "3",
      "--pg-restarts",
      "1",
      "--rate",
      "150",
      "--drain",
      "60",
    ]);
    // The table, when something fails: what was lost where, and what the listener logged.
    if (code !== 0) console.log(output);

    // The faults really happened and load really flowed.
    expect(report.faults.listenerKills).toBe(3);
    expect(report.faults.postgresRestarts).toBe(1);
    expect(
      report.faults.proxyRefused + report.faults.proxyResetBefore + report.faults.proxyResetAfter,
    ).toBeGreaterThan(0);
    expect(report.appended.events).toBeGreaterThan(100);

    // Poison: NUL and lone surrogates refused with 400, the rest accepted (and delivered: see the sinks).
    for (const [kind, p] of Object.entries(report.poison)) {
      expect.soft(p.sent, kind).toBeGreaterThan(0);
      if (p.expected === "refuse") expect.soft({ kind, accepted: p.accepted }).toEqual({ kind, accepted: 0 });
      else expect.soft({ kind, refused: p.refused }).toEqual({ kind, refused: 0 });
    }
    expect.soft(report.poisonFilters.accepted).toEqual([]);
    expect.soft(report.poisonFilters.refused).toBe(report.poisonFilters.tried);

    // Persistent subscriptions: nothing lost or parked, no inversion in the ordered one, nothing stuck.
    for (const sink of report.sinks.filter(
      (s) => s.sink.startsWith("sqs ") || s.sink.startsWith("realtime"),
    )) {
      expect
        .soft({
          sink: sink.sink,
          lost: sink.lost,
          parked: sink.parked,
          inversions: sink.inversions ?? 0,
          stuck: sink.stuck,
        })
        .toEqual({
          sink: sink.sink,
          lost: 0,
          parked: 0,
          inversions: 0,
          stuck: false,
        });
    }
    expect(report.violations).toEqual([]);
    expect(code).toBe(0);
  }, 300_000);
});
