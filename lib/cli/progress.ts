import cliProgress from "cli-progress";

export interface Progress {
  /** Sets the bar to `value` of `total` (the total may grow). */
  update(value: number, total?: number): void;
  stop(): void;
}

/**
 * A progress bar on stderr with count, percentage and rate, only when stderr is a terminal and output is not
 * `--json`: scripts and pipes get the final summary line alone.
 */
export function startProgress(label: string, total: number, enabled: boolean): Progress {
  if (!enabled || !process.stderr.isTTY) return { update() {}, stop() {} };
  const startedAt = Date.now();
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {value}/{total} {percentage}% | {rate} | {duration}s`,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(Math.max(total, 1), 0, { rate: "0/s" });
  return {
    update(value, newTotal) {
      if (newTotal !== undefined) bar.setTotal(Math.max(newTotal, 1));
      const seconds = (Date.now() - startedAt) / 1000;
      bar.update(value, { rate: `${seconds > 0 ? Math.round(value / seconds) : 0}/s` });
    },
    stop() {
      bar.stop();
    },
  };
}
