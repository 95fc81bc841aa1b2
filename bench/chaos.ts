/**
 * `npm run chaos`: the whole bus under load while things break (issue 9). 8 writers append over HTTP to 50
 * streams; an ordered (FIFO) and an unordered subscription are drained by consumers; WebSocket clients
 * listen on `$all` and a category while others come and go. Meanwhile the listener (a child process) is
 * SIGKILLed and restarted, Postgres restarts, a proxy in front of the SQS stand-in fails ~5 % of the
 * listener's calls and adds latency, and poison events and filters are slipped in. The report says what
 * was appended, delivered per sink, lost, parked, duplicated and reordered, and what is stuck.
 *
 *   npm run chaos                          60 s, 12 kills, 2 Postgres restarts
 *   npm run chaos -- --seconds 25 --kills 3 --pg-restarts 1
 *   npm run chaos -- --soak [--minutes 10] steady load, memory and handles sampled, growth judged
 *   npm run chaos -- --json                the report as one JSON object on the last line, too
 *   other flags: --writers --streams --rate --failure-rate --poison-rate --drain --seed
 *
 * Exits 1 if an accepted event is lost from a persistent subscription (or parked: nothing here is
 * undeliverable and every injected fault is transient), the ordered subscription has an order
 * inversion, a subscription (or the realtime fan-out) is stuck after the drain, poison is not
 * handled as promised (NUL and lone surrogates: 400; U+FFFE, U+FFFF, astral: accepted and delivered;
 * poison filters: 400), or in a soak, memory or handles do not level off.
 */
import { parseArgs } from "node:util";
import { formatReport } from "./chaos/report.ts";
import { runChaos } from "./chaos/run.ts";

const { values } = parseArgs({
  options: {
    soak: { type: "boolean", default: false },
    minutes: { type: "string" },
    seconds: { type: "string" },
    writers: { type: "string", default: "8" },
    streams: { type: "string", default: "50" },
    rate: { type: "string" },
    kills: { type: "string" },
    "pg-restarts": { type: "string" },
    "failure-rate": { type: "string", default: "0.05" },
    "poison-rate": { type: "string" },
    drain: { type: "string" },
    seed: { type: "string" },
    "sample-seconds": { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  process.stdout.write(
    "usage: npm run chaos -- [--seconds N] [--kills N] [--pg-restarts N] [--writers N] [--streams N] [--rate ev/s]\n" +
      "                        [--failure-rate 0.05] [--poison-rate 0.02] [--drain s] [--seed N] [--json]\n" +
      "       npm run chaos -- --soak [--minutes 10] [--sample-seconds 15] [--json]\n",
  );
  process.exit(0);
}

const number = (name: string, value: string | undefined, fallback: number) => {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) {
    process.stderr.write(`--${name} must be a non-negative number, got '${value}'\n`);
    process.exit(2);
  }
  return parsed;
};

const soak = values.soak;
const seconds = soak ? number("minutes", values.minutes, 10) * 60 : number("seconds", values.seconds, 60);
const log = (message: string) => process.stderr.write(`[chaos] ${message}\n`);
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const report = await runChaos({
  seconds,
  writers: number("writers", values.writers, 8),
  streams: number("streams", values.streams, 50),
  rate: number("rate", values.rate, soak ? 100 : 300),
  kills: soak
    ? number("kills", values.kills, 0)
    : number("kills", values.kills, Math.max(1, Math.round(seconds / 5))),
  pgRestarts: soak
    ? number("pg-restarts", values["pg-restarts"], 0)
    : number("pg-restarts", values["pg-restarts"], 2),
  failureRate: number("failure-rate", values["failure-rate"], 0.05),
  latencyMs: [1, 30],
  poisonRate: number("poison-rate", values["poison-rate"], 0.02),
  drainSeconds: number("drain", values.drain, 60),
  seed: number("seed", values.seed, Date.now() % 1_000_000),
  ...(soak ? { soak: { sampleSeconds: number("sample-seconds", values["sample-seconds"], 15) } } : {}),
  log,
});

process.stdout.write(`${formatReport(report)}\n`);
if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(report.ok ? 0 : 1);
