import { EventBusClientError } from "../client/errors.ts";
import type { CloudEvent } from "../client/types.ts";
import { colors as pc } from "./colors.ts";

/**
 * Exit codes scripts can rely on. 2 also covers input the server refused as invalid (`VALIDATION_FAILED`):
 * either way the command line has to change.
 */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  auth: 5,
} as const;

/** How `--json` names a failure of the CLI's own (not the server's), by its exit code. */
const LABELS: Record<number, string> = {
  [EXIT.failure]: "FAILED",
  [EXIT.usage]: "USAGE",
  [EXIT.notFound]: "NOT_FOUND",
  [EXIT.conflict]: "CONFLICT",
  [EXIT.auth]: "UNAUTHORIZED",
};

/** An error that ends the command with a message and a given exit code. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** The exit code for a client error, by its stable code. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof CliError) return error.exitCode;
  if (!(error instanceof EventBusClientError)) return EXIT.failure;
  if (
    error.code === "VALIDATION_FAILED" ||
    error.code === "PAYLOAD_TOO_LARGE" ||
    error.code === "UNSUPPORTED_MEDIA_TYPE"
  )
    return EXIT.usage;
  if (error.status === 404) return EXIT.notFound;
  if (error.status === 409) return EXIT.conflict;
  if (error.status === 401 || error.status === 403) return EXIT.auth;
  return EXIT.failure;
}

/** Writes an error: one readable line (plus the server's field errors), or a JSON object with `--json`. */
export function printError(error: unknown, json: boolean): void {
  if (json) {
    const body =
      error instanceof EventBusClientError
        ? { error: { code: error.code, status: error.status, detail: error.detail, ...error.problem } }
        : {
            error: {
              code: (error instanceof CliError && LABELS[error.exitCode]) || "FAILED",
              detail: (error as Error).message,
            },
          };
    process.stderr.write(`${JSON.stringify(body)}\n`);
    return;
  }
  if (error instanceof EventBusClientError) {
    process.stderr.write(
      `${pc.red("error")} ${pc.bold(error.code)}${error.status ? ` (${error.status})` : ""}: ${error.detail}\n`,
    );
    const fieldErrors = Array.isArray(error.problem.errors) ? error.problem.errors : [];
    for (const item of fieldErrors as Array<{ pointer?: string; message?: string }>) {
      process.stderr.write(`  ${item.pointer ?? ""} ${item.message ?? ""}\n`);
    }
    return;
  }
  process.stderr.write(`${pc.red("error")}: ${(error as Error).message}\n`);
}

/** One line per event: position, stream and version, type, data. */
export function formatEvent(event: CloudEvent): string {
  const data = JSON.stringify(event.data);
  return `${pc.dim(String(event.position).padStart(6))}  ${pc.cyan(`${event.streamid}@${event.streamversion}`)}  ${pc.bold(event.type)}  ${data ?? ""}`;
}

/** Prints an object as JSON (`--json`) or as aligned `key: value` lines. */
export function printRecord(record: Record<string, unknown>, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(record)}\n`);
    return;
  }
  const width = Math.max(...Object.keys(record).map((key) => key.length));
  for (const [key, value] of Object.entries(record)) {
    const shown = typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
    process.stdout.write(`${pc.dim(`${key}:`.padEnd(width + 1))} ${shown}\n`);
  }
}

/** Prints rows as an aligned table with a header. */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? "").length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  process.stdout.write(`${pc.bold(line(headers))}\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
}

/** `1.2k/s` style rates for progress lines. */
export function rate(count: number, ms: number): string {
  const perSecond = ms > 0 ? (count * 1000) / ms : 0;
  return perSecond >= 1000 ? `${(perSecond / 1000).toFixed(1)}k/s` : `${perSecond.toFixed(0)}/s`;
}
