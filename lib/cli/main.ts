#!/usr/bin/env node
/**
 * `eventbus`: the bus from a terminal. Human output by default, `--json` for scripts, `--help` on every
 * command. Exit codes: 0 ok, 1 failure, 2 usage (or input the server refused as invalid), 3 not found,
 * 4 conflict, 5 unauthorized or forbidden. Configuration: flags, then `EVENTBUS_URL` / `EVENTBUS_WS_URL` /
 * `EVENTBUS_TOKEN`, then the profile file (see `config.ts`).
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { Command, CommanderError, Option } from "commander";
import { createClient, type EventBusClient } from "../client/client.ts";
import type {
  CloudEvent,
  ExpectedVersion,
  NewEvent,
  SubscriptionDefinition,
  SubscriptionStatus,
} from "../client/types.ts";
import { VERSION } from "../client/version.ts";
import { colors as pc } from "./colors.ts";
import { type CliConfig, resolveConfig } from "./config.ts";
import { printChecks, runDoctor } from "./doctor.ts";
import { lifetimeSeconds, localSecret, mintLocalToken } from "./localToken.ts";
import {
  CliError,
  EXIT,
  exitCodeFor,
  formatEvent,
  printError,
  printRecord,
  printTable,
  rate,
} from "./output.ts";
import { startProgress } from "./progress.ts";

interface GlobalOptions {
  url?: string;
  wsUrl?: string;
  token?: string;
  profile?: string;
  config?: string;
  json?: boolean;
  color?: boolean;
}

const env = process.env;
const program = new Command();

program
  .name("eventbus")
  .description("Append, read and tail events, and manage subscriptions, on an eventbus HTTP/WebSocket API.")
  .option("--url <url>", "HTTP API URL (env EVENTBUS_URL; default http://127.0.0.1:4000)")
  .option(
    "--ws-url <url>",
    "WebSocket API URL (env EVENTBUS_WS_URL; default: the HTTP port + 1 on localhost)",
  )
  .option(
    "--token <jwt>",
    "bearer token (env EVENTBUS_TOKEN; locally minted from .eventbus/jwt-secret if unset)",
  )
  .option("--profile <name>", "profile in the config file (env EVENTBUS_PROFILE; default 'default')")
  .option("--config <file>", "config file (env EVENTBUS_CONFIG; default ~/.config/eventbus/config.json)")
  .option("--json", "machine-readable output: JSON objects, NDJSON for event streams")
  .option("--no-color", "no colors (also NO_COLOR)")
  .version(VERSION, "-V, --version", "print the version of the CLI (the serverless-eventbus package)")
  .showHelpAfterError("(add --help for usage)")
  .addHelpText(
    "after",
    `
Exit codes: 0 ok, 1 failure, 2 usage or invalid input, 3 not found, 4 conflict, 5 unauthorized/forbidden.

Examples:
  eventbus append orders-42 --type OrderPlaced --data '{"total":42}'
  eventbus read orders-42
  eventbus tail category:orders --from 1
  eventbus subscriptions create audits --filter '{"type":["OrderPlaced"]}' --ordering stream
  eventbus subscriptions replay audits --from origin
  eventbus doctor`,
  )
  .exitOverride();

const globals = (): GlobalOptions => program.opts<GlobalOptions>();
const json = () => globals().json === true;

async function config(): Promise<CliConfig> {
  const g = globals();
  const resolved = resolveConfig(
    {
      ...(g.url === undefined ? {} : { url: g.url }),
      ...(g.wsUrl === undefined ? {} : { wsUrl: g.wsUrl }),
      ...(g.token === undefined ? {} : { token: g.token }),
      ...(g.profile === undefined ? {} : { profile: g.profile }),
      ...(g.config === undefined ? {} : { config: g.config }),
    },
    env,
    homedir(),
  );
  if (resolved.token === undefined && isLoopback(resolved.url)) {
    // Against `npm run dev` in this directory, sign a short-lived admin token with its secret.
    const secret = localSecret(env, process.cwd());
    if (secret !== undefined) {
      resolved.token = await mintLocalToken(secret, {
        scope: "admin",
        expires: "1h",
        subject: "eventbus-cli",
      });
      resolved.sources.token = "minted from the local secret";
    }
  }
  return resolved;
}

const isLoopback = (url: string) => ["127.0.0.1", "localhost", "[::1]"].includes(new URL(url).hostname);

async function client(): Promise<EventBusClient> {
  const c = await config();
  return createClient({
    url: c.url,
    ...(c.wsUrl ? { wsUrl: c.wsUrl } : {}),
    ...(c.token ? { token: c.token } : {}),
  });
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CliError(EXIT.usage, `${what} is not valid JSON: ${(error as Error).message}`);
  }
}

function parseInteger(what: string, min = 0) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
      throw new CliError(EXIT.usage, `${what} must be an integer >= ${min}, got '${value}'`);
    }
    return Number(value);
  };
}

function parsePosition(what: string) {
  return (value: string): string => {
    if (!/^\d{1,19}$/.test(value))
      throw new CliError(EXIT.usage, `${what} must be a position (an integer >= 0), got '${value}'`);
    return value;
  };
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

// ---------------------------------------------------------------------------------------------- append

program
  .command("append")
  .description("append one event (--type/--data) or the JSON event(s) given as an argument or on stdin")
  .argument("<stream>", "stream id, e.g. orders-42")
  .argument("[events]", "JSON: an event {type, data?, id?, metadata?} or an array of them; '-' reads stdin")
  .option("--type <type>", "event type (instead of a JSON argument)")
  .option("--data <json>", "event data as JSON (with --type)")
  .option("--id <id>", "event id (with --type), makes a retry idempotent")
  .option("--expected-version <v>", "any | no_stream | stream_exists | <version>")
  .addHelpText(
    "after",
    `\nExamples:\n  eventbus append orders-42 --type OrderPlaced --data '{"total":42}'\n  echo '[{"type":"A"},{"type":"B"}]' | eventbus append orders-42 - --expected-version 0`,
  )
  .action(
    async (
      stream: string,
      eventsArg: string | undefined,
      options: { type?: string; data?: string; id?: string; expectedVersion?: string },
    ) => {
      let events: NewEvent | NewEvent[];
      if (options.type !== undefined) {
        if (eventsArg !== undefined)
          throw new CliError(EXIT.usage, "give either --type/--data or a JSON argument, not both");
        events = {
          type: options.type,
          ...(options.data === undefined ? {} : { data: parseJson(options.data, "--data") }),
          ...(options.id === undefined ? {} : { id: options.id }),
        };
      } else {
        const text = eventsArg === undefined || eventsArg === "-" ? readStdin() : eventsArg;
        if (text.trim() === "")
          throw new CliError(EXIT.usage, "no events: give --type, a JSON argument, or JSON on stdin");
        events = parseEvents(text);
      }
      const expectedVersion = parseExpectedVersion(options.expectedVersion);
      const result = await (await client()).append(
        stream,
        events,
        expectedVersion === undefined ? {} : { expectedVersion },
      );
      if (json()) return printRecord(result as unknown as Record<string, unknown>, true);
      const positions = result.events.map((e) => String(e.position));
      process.stdout.write(
        `${pc.green("appended")} ${result.events.length} event(s) to ${pc.cyan(result.streamId)}: version ${result.version}, position ${positions.join(", ")}\n`,
      );
    },
  );

function readStdin(): string {
  if (process.stdin.isTTY)
    throw new CliError(EXIT.usage, "no events: give --type, a JSON argument, or pipe JSON to stdin");
  return readFileSync(0, "utf8");
}

/** A JSON event, a JSON array, or NDJSON (one event per line). */
function parseEvents(text: string): NewEvent | NewEvent[] {
  const trimmed = text.trim();
  if (!trimmed.startsWith("[") && trimmed.includes("\n")) {
    return trimmed
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line, i) => parseJson(line, `line ${i + 1}`) as NewEvent);
  }
  return parseJson(trimmed, "the events") as NewEvent | NewEvent[];
}

function parseExpectedVersion(value: string | undefined): ExpectedVersion | undefined {
  if (value === undefined) return undefined;
  if (value === "any" || value === "no_stream" || value === "stream_exists") return value;
  return parseInteger("--expected-version")(value);
}

// ------------------------------------------------------------------------------------------------ read

program
  .command("read")
  .description("read a stream, or all streams in global order when no stream is given")
  .argument("[stream]", "stream id; omit to read all streams")
  .option(
    "--from <version>",
    "stream: first version (backward: the version to read back from)",
    parseInteger("--from", 1),
  )
  .option("--backward", "stream: newest first")
  .option("--after <position>", "all streams: events after this position", parsePosition("--after"))
  .option("--type <type>", "all streams: only this type (repeatable)", collect)
  .option("--category <name>", "all streams: only this category (repeatable)", collect)
  .option("--filter <pattern>", "all streams: an EventBridge-style pattern (JSON)")
  .option("--limit <n>", "at most this many events (default: all)", parseInteger("--limit", 1))
  .addHelpText(
    "after",
    `\nHuman output: position, stream@version, type, data. --json: one CloudEvent per line (NDJSON).`,
  )
  .action(
    async (
      stream: string | undefined,
      options: {
        from?: number;
        backward?: boolean;
        after?: string;
        type?: string[];
        category?: string[];
        filter?: string;
        limit?: number;
      },
    ) => {
      const bus = await client();
      const max = options.limit ?? Number.POSITIVE_INFINITY;
      const pageSize = Math.min(1000, max);
      let pages: AsyncIterable<{ events: CloudEvent[] }>;
      if (stream !== undefined) {
        if (options.after !== undefined || options.type || options.category || options.filter) {
          throw new CliError(
            EXIT.usage,
            "--after, --type, --category and --filter apply to all streams: drop the stream id",
          );
        }
        pages = bus.read(stream, {
          limit: pageSize,
          ...(options.from === undefined ? {} : { from: options.from }),
          ...(options.backward ? { direction: "backward" as const } : {}),
        });
      } else {
        if (options.from !== undefined || options.backward)
          throw new CliError(EXIT.usage, "--from and --backward need a stream id");
        pages = bus.readAll({
          limit: pageSize,
          ...(options.after === undefined ? {} : { after: options.after }),
          ...(options.type ? { type: options.type } : {}),
          ...(options.category ? { category: options.category } : {}),
          ...(options.filter === undefined
            ? {}
            : { filter: parseJson(options.filter, "--filter") as Record<string, unknown> }),
        });
      }
      const startedAt = Date.now();
      const bar = startProgress("reading", Number.isFinite(max) ? max : 0, !json());
      let count = 0;
      try {
        outer: for await (const page of pages) {
          for (const event of page.events) {
            if (count >= max) break outer;
            count++;
            process.stdout.write(json() ? `${JSON.stringify(event)}\n` : `${formatEvent(event)}\n`);
          }
          bar.update(
            count,
            Number.isFinite(max) ? max : count + (page.events.length === pageSize ? pageSize : 0),
          );
          if (page.events.length < pageSize && stream === undefined) break;
        }
      } finally {
        bar.stop();
      }
      if (!json())
        process.stderr.write(
          pc.dim(
            `${count} event(s) in ${Date.now() - startedAt} ms (${rate(count, Date.now() - startedAt)})\n`,
          ),
        );
    },
  );

// ------------------------------------------------------------------------------------------------ tail

program
  .command("tail")
  .description("print events (or messages) live over WebSocket, resuming across reconnects")
  .argument("<topic>", "stream:<id>, category:<name>, $all, any message topic, or a bare stream id")
  .option("--from <position>", "history from this position first (event topics)", parsePosition("--from"))
  .option("--filter <pattern>", "an EventBridge-style pattern (JSON)")
  .option("--count <n>", "exit after this many events or messages", parseInteger("--count", 1))
  .addHelpText(
    "after",
    `\nRuns until Ctrl-C (or --count). Connection changes go to stderr. --json: one CloudEvent (or message) per line.`,
  )
  .action(async (topicArg: string, options: { from?: string; filter?: string; count?: number }) => {
    const c = await config();
    if (c.wsUrl === undefined)
      throw new CliError(EXIT.usage, "no WebSocket URL: give --ws-url or EVENTBUS_WS_URL");
    const topic = topicArg === "$all" || topicArg.includes(":") ? topicArg : `stream:${topicArg}`;
    // Through the SDK's client, so that a `--from` too far back for the WebSocket replay is read over HTTP
    // first (and so is the gap after a long disconnect).
    const realtime = createClient({
      url: c.url,
      wsUrl: c.wsUrl,
      ...(c.token ? { token: c.token } : {}),
      realtime: { maxDelayMs: 5000 },
    }).realtime;
    let seen = 0;
    let finish: (code: number) => void = () => {};
    const done = new Promise<number>((resolve) => {
      finish = resolve;
    });
    const emit = (line: string) => {
      process.stdout.write(`${line}\n`);
      seen++;
      if (options.count !== undefined && seen >= options.count) finish(EXIT.ok);
    };
    realtime.on("state", (state) => {
      if (!json() && state !== "idle") process.stderr.write(pc.dim(`[${state}]\n`));
    });
    realtime.on("error", (error) => process.stderr.write(`${pc.yellow("warning")}: ${error.message}\n`));
    const subscribeOptions = {
      ...(options.from === undefined ? {} : { from: options.from }),
      ...(options.filter === undefined
        ? {}
        : { filter: parseJson(options.filter, "--filter") as Record<string, unknown> }),
    };
    const isEvents = topic === "$all" || topic.startsWith("stream:") || topic.startsWith("category:");
    const connected = new Promise<never>((_, reject) => {
      const timer = setTimeout(
        () => reject(new CliError(EXIT.failure, `could not connect to ${c.wsUrl} within 15 s`)),
        15_000,
      );
      realtime.on("state", (state) => state === "open" && clearTimeout(timer));
    });
    if (isEvents) {
      await Promise.race([
        realtime.subscribe(topic as `stream:${string}`, subscribeOptions, (event) =>
          emit(json() ? JSON.stringify(event) : formatEvent(event)),
        ),
        connected,
      ]);
    } else {
      await Promise.race([
        realtime.subscribe(topic, subscribeOptions, (message) =>
          emit(
            json()
              ? JSON.stringify(message)
              : `${pc.bold(message.topic ?? "")}  ${JSON.stringify(message.data)}  ${pc.dim(message.sender ?? "server")}`,
          ),
        ),
        connected,
      ]);
    }
    if (!json()) process.stderr.write(pc.dim(`subscribed to ${topic}; Ctrl-C to stop\n`));
    process.once("SIGINT", () => finish(EXIT.ok));
    process.once("SIGTERM", () => finish(EXIT.ok));
    const code = await done;
    realtime.close();
    process.exitCode = code;
  });

// --------------------------------------------------------------------------------------- subscriptions

const subscriptions = program
  .command("subscriptions")
  .alias("subs")
  .description("manage persistent subscriptions");

subscriptions
  .command("list")
  .description("every subscription with its state, checkpoint, lag and queue depths")
  .action(async () => {
    const list = await (await client()).subscriptions.list();
    if (json()) return printRecord({ subscriptions: list }, true);
    if (list.length === 0) return void process.stdout.write("no subscriptions\n");
    printTable(
      ["NAME", "STATE", "ORDERING", "CHECKPOINT", "HEAD", "LAG", "QUEUE", "DLQ", "OWNER"],
      list.map((s) => [
        s.name,
        stateCell(s.state),
        String(s.ordering ?? ""),
        String(s.checkpoint),
        String(s.head),
        String(s.lag),
        String(s.queueDepth),
        s.dlqDepth > 0 ? pc.red(String(s.dlqDepth)) : String(s.dlqDepth),
        s.owner ?? pc.dim("none"),
      ]),
    );
  });

/** A subscription's state, coloured by how much it asks for attention (`failing`: see its `lastError`). */
function stateCell(state: string | undefined): string {
  if (state === undefined) return "";
  if (state === "failing" || state === "parked") return pc.red(state);
  return state === "active" ? state : pc.yellow(state);
}

subscriptions
  .command("get")
  .description("a subscription's definition, queues and live state")
  .argument("<name>")
  .action(async (name: string) => {
    printRecord((await (await client()).subscriptions.get(name)) as Record<string, unknown>, json());
  });

subscriptions
  .command("create")
  .description(
    "create a subscription with its SQS queue and DLQ (a no-op if it exists with the same definition)",
  )
  .argument("<name>")
  .option("--filter <pattern>", "an EventBridge-style pattern over the CloudEvent (JSON)")
  .option("--start-from <from>", "origin | current | <position>")
  .addOption(
    new Option("--ordering <ordering>", "per-stream order (FIFO queue) or none").choices(["none", "stream"]),
  )
  .option(
    "--max-receive-count <n>",
    "receives before a message goes to the DLQ",
    parseInteger("--max-receive-count", 1),
  )
  .option("--visibility-timeout <seconds>", "SQS visibility timeout", parseInteger("--visibility-timeout"))
  .action(
    async (
      name: string,
      options: {
        filter?: string;
        startFrom?: string;
        ordering?: "none" | "stream";
        maxReceiveCount?: number;
        visibilityTimeout?: number;
      },
    ) => {
      const definition: SubscriptionDefinition = {
        ...(options.filter === undefined
          ? {}
          : { filter: parseJson(options.filter, "--filter") as Record<string, unknown> }),
        ...(options.startFrom === undefined ? {} : { startFrom: parseStartFrom(options.startFrom) }),
        ...(options.ordering === undefined ? {} : { ordering: options.ordering }),
        ...(options.maxReceiveCount === undefined ? {} : { maxReceiveCount: options.maxReceiveCount }),
        ...(options.visibilityTimeout === undefined ? {} : { visibilityTimeout: options.visibilityTimeout }),
      };
      const result = await (await client()).subscriptions.create(name, definition);
      if (json()) return printRecord(result, true);
      process.stdout.write(
        result.created
          ? `${pc.green("created")} subscription ${pc.bold(name)}\n  queue ${result.queueUrl}\n  dlq   ${result.dlqUrl}\n`
          : `subscription ${pc.bold(name)} already exists with this definition\n`,
      );
    },
  );

function parseStartFrom(value: string): "origin" | "current" | number {
  if (value === "origin" || value === "current") return value;
  return parseInteger("--start-from")(value);
}

subscriptions
  .command("delete")
  .description("delete a subscription and its queues")
  .argument("<name>")
  .action(async (name: string) => {
    await (await client()).subscriptions.delete(name);
    if (json()) return printRecord({ name, deleted: true }, true);
    process.stdout.write(`${pc.green("deleted")} subscription ${pc.bold(name)}\n`);
  });

subscriptions
  .command("replay")
  .description("forward every matching event from a position on again, showing progress until caught up")
  .argument("<name>")
  .requiredOption("--from <from>", "origin | current | <position>")
  .option("--no-wait", "return once the checkpoint is moved, without waiting for the catch-up")
  .option(
    "--timeout <seconds>",
    "give up waiting after this long (default 600)",
    parseInteger("--timeout", 1),
  )
  .action(async (name: string, options: { from: string; wait: boolean; timeout?: number }) => {
    const bus = await client();
    const from =
      options.from === "origin" || options.from === "current"
        ? options.from
        : parsePosition("--from")(options.from);
    const startedAt = Date.now();
    const replayed = await bus.subscriptions.replay(name, from);
    if (!options.wait) return printRecord(replayed, json());
    const status = await waitForCatchUp(bus, name, startedAt, (options.timeout ?? 600) * 1000);
    const ms = Date.now() - startedAt;
    if (json()) return printRecord({ ...status, forwarded: status.forwarded, ms }, true);
    process.stdout.write(
      `${pc.green("replayed")} ${pc.bold(name)}: ${status.forwarded} position(s) forwarded in ${(ms / 1000).toFixed(1)} s (${rate(status.forwarded, ms)}), checkpoint ${String(status.checkpoint)}, lag 0, queue ${status.queueDepth}\n`,
    );
  });

/** Polls the subscription until its lag is 0, with a progress bar over the positions still to forward. */
async function waitForCatchUp(
  bus: EventBusClient,
  name: string,
  startedAt: number,
  timeoutMs: number,
): Promise<SubscriptionStatus & { forwarded: number }> {
  let status = await bus.subscriptions.get(name);
  const total = Math.max(status.lag, 1);
  const bar = startProgress(`replaying ${name}`, total, !json());
  try {
    while (status.lag > 0) {
      if (Date.now() - startedAt > timeoutMs) {
        throw new CliError(
          EXIT.failure,
          `${name} still has lag ${status.lag} after ${timeoutMs / 1000} s; is a listener running?`,
        );
      }
      bar.update(total - status.lag, total);
      await new Promise((resolve) => setTimeout(resolve, 250));
      status = await bus.subscriptions.get(name);
    }
    bar.update(total, total);
  } finally {
    bar.stop();
  }
  return { ...status, forwarded: total };
}

subscriptions
  .command("redrive")
  .description("move the DLQ's messages back to the queue")
  .argument("<name>")
  .action(async (name: string) => {
    const bus = await client();
    const before = await bus.subscriptions.get(name);
    const bar = startProgress(`redriving ${name}`, before.dlqDepth, !json());
    const startedAt = Date.now();
    let result: Awaited<ReturnType<EventBusClient["subscriptions"]["redrive"]>>;
    try {
      result = await bus.subscriptions.redrive(name);
      bar.update(result.moved, Math.max(before.dlqDepth, result.moved));
    } finally {
      bar.stop();
    }
    const ms = Date.now() - startedAt;
    if (json()) return printRecord({ ...result, ms }, true);
    process.stdout.write(
      `${pc.green("redrove")} ${pc.bold(name)}: ${result.moved} message(s) moved back to the queue in ${ms} ms (${rate(result.moved, ms)})${result.drained ? "" : pc.yellow(", DLQ not drained yet: run it again")}\n`,
    );
  });

// -------------------------------------------------------------------------------------------- captures

const captures = program.command("captures").description("manage change data capture of Postgres tables");

captures
  .command("list")
  .description("every capture with its table, slot and lag")
  .action(async () => {
    const list = await (await client()).captures.list();
    if (json()) return printRecord({ captures: list }, true);
    if (list.length === 0) return void process.stdout.write("no captures\n");
    printTable(
      ["NAME", "TABLE", "ACTIVE", "LAG BYTES", "LAG S", "LAST ERROR"],
      list.map((c) => [
        c.name,
        c.table,
        String(c.active ?? ""),
        String(c.lagBytes ?? ""),
        String(c.lagSeconds ?? ""),
        c.lastError ? pc.red(String(c.lastError)) : "",
      ]),
    );
  });

captures
  .command("get")
  .description("a capture's table, key columns, slot and lag")
  .argument("<name>")
  .action(async (name: string) => {
    printRecord((await (await client()).captures.get(name)) as Record<string, unknown>, json());
  });

captures
  .command("create")
  .description("capture a table's row changes as events of category <name> (scope admin)")
  .argument("<name>", "the capture's name: the streams' category and the types' prefix")
  .requiredOption("--table <schema.table>", "the table to capture")
  .option("--replica-identity-full", "set REPLICA IDENTITY FULL so updates and deletes carry the old row")
  .action(async (name: string, options: { table: string; replicaIdentityFull?: boolean }) => {
    const result = await (await client()).captures.create(name, {
      table: options.table,
      ...(options.replicaIdentityFull ? { replicaIdentityFull: true } : {}),
    });
    if (json()) return printRecord(result, true);
    process.stdout.write(
      result.created
        ? `${pc.green("created")} capture ${pc.bold(name)} of ${result.table}\n`
        : `capture ${pc.bold(name)} of ${result.table} already exists\n`,
    );
  });

captures
  .command("delete")
  .description("stop capturing a table (its stored events stay)")
  .argument("<name>")
  .action(async (name: string) => {
    await (await client()).captures.delete(name);
    if (json()) return printRecord({ name, deleted: true }, true);
    process.stdout.write(`${pc.green("deleted")} capture ${pc.bold(name)}\n`);
  });

// ----------------------------------------------------------------------------------------------- token

program
  .command("token")
  .description("mint a token signed with the local secret (EVENTBUS_JWT_SECRET, else .eventbus/jwt-secret)")
  .option("--scope <scopes>", "space-separated scopes", "admin")
  .option("--streams <glob>", "bound the streams and topics the token may touch (repeatable)", collect)
  .option("--subject <sub>", "the token's subject", "local-user")
  .option("--expires <time>", "lifetime: <n>s, <n>m, <n>h or <n>d (at most 30d)", "1d")
  .option("--issuer <iss>", "the token's issuer")
  .option("--audience <aud>", "the token's audience")
  .action(
    async (options: {
      scope: string;
      streams?: string[];
      subject: string;
      expires: string;
      issuer?: string;
      audience?: string;
    }) => {
      const { SCOPES, DEFAULT_MAX_TOKEN_LIFETIME_SECONDS } = await import("../auth/token.ts");
      const unknown = options.scope.split(" ").filter((s) => s && !(SCOPES as readonly string[]).includes(s));
      if (unknown.length > 0)
        throw new CliError(
          EXIT.usage,
          `unknown scope(s): ${unknown.join(", ")}; known: ${SCOPES.join(", ")}`,
        );
      const seconds = lifetimeSeconds(options.expires);
      if (seconds === undefined)
        throw new CliError(EXIT.usage, `--expires '${options.expires}' is not a lifetime like 30m, 2h or 1d`);
      if (seconds < 1 || seconds > DEFAULT_MAX_TOKEN_LIFETIME_SECONDS) {
        throw new CliError(
          EXIT.usage,
          `--expires must be between 1s and ${DEFAULT_MAX_TOKEN_LIFETIME_SECONDS / 86400}d`,
        );
      }
      const secret = localSecret(env, process.cwd());
      if (secret === undefined) {
        throw new CliError(
          EXIT.failure,
          "no local secret: set EVENTBUS_JWT_SECRET, or run npm run dev once in this directory",
        );
      }
      const token = await mintLocalToken(secret, {
        scope: options.scope,
        subject: options.subject,
        expires: options.expires,
        ...(options.streams ? { streams: options.streams } : {}),
        ...(options.issuer === undefined ? {} : { issuer: options.issuer }),
        ...(options.audience === undefined ? {} : { audience: options.audience }),
      });
      if (json())
        return printRecord({ token, expiresAt: new Date(Date.now() + seconds * 1000).toISOString() }, true);
      process.stdout.write(`${token}\n`);
    },
  );

// ---------------------------------------------------------------------------------------------- doctor

program
  .command("doctor")
  .description("check configuration, connectivity, server version, token and WebSocket, one line each")
  .option("--timeout <seconds>", "per check", parseInteger("--timeout", 1), 5)
  .action(async (options: { timeout: number }) => {
    const checks = await runDoctor(await config(), options.timeout * 1000);
    if (json()) printRecord({ ok: checks.every((c) => c.ok || c.warn), checks }, true);
    else printChecks(checks);
    if (!checks.every((c) => c.ok || c.warn)) process.exitCode = EXIT.failure;
  });

// ------------------------------------------------------------------------------------------------ main

for (const command of [program, ...program.commands, ...subscriptions.commands, ...captures.commands]) {
  command.exitOverride();
}

/** Resolves once everything written to `stream` before this call has been handed to the OS (or failed). */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  // Writes complete in order, so the callback of an empty write runs after every earlier one.
  return new Promise((resolve) => stream.write("", () => resolve()));
}

// A reader that goes away (`eventbus tail ... | head -1`) ends the command quietly, as SIGPIPE ends
// other Unix tools, instead of an unhandled EPIPE error with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    process.exit(error.code === "EPIPE" ? (process.exitCode ?? EXIT.ok) : EXIT.failure);
  });
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander printed the message (or the help) already.
    process.exitCode =
      error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.exitCode === 0
        ? EXIT.ok
        : EXIT.usage;
  } else {
    printError(error, process.argv.includes("--json"));
    process.exitCode = exitCodeFor(error);
  }
}
// An open WebSocket or a pending retry timer must not keep a finished command alive, so the command ends
// with process.exit; but only once stdout and stderr are flushed: a write to a pipe whose reader lags
// (`eventbus read --json | slow-consumer`) is queued in the process, and exiting drops it while the
// exit code still says success.
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(process.exitCode ?? EXIT.ok);
