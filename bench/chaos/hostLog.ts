/**
 * The handlers running in the chaos process log as on Lambda (JSON lines, stack traces included). During a
 * Postgres restart that is hundreds of lines; this keeps them out of the report and counts them instead,
 * by level, message and error message, so the report can say what went wrong how often.
 */
export function captureHandlerLogs(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === "string" ? chunk : Buffer.isBuffer(chunk) ? chunk.toString() : "";
      if (!text.startsWith('{"level":')) return write(chunk, ...rest);
      for (const line of text.split("\n")) {
        if (!line) continue;
        try {
          const entry = JSON.parse(line) as {
            level?: string;
            message?: string;
            service?: string;
            error?: { message?: string };
          };
          if (entry.level !== "WARN" && entry.level !== "ERROR") continue;
          const detail = entry.error?.message?.replace(/\d+\.\d+\.\d+\.\d+:\d+/g, "<addr>").slice(0, 100);
          const key = `${entry.level} ${entry.service ?? ""}: ${entry.message ?? ""}${detail ? `: ${detail}` : ""}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        } catch {
          write(`${line}\n`);
        }
      }
      const callback = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof stream.write;
  }
  return counts;
}
