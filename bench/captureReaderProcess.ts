/**
 * The capture reader in its own process (as in the listener), for `bench:capture`: the writer being
 * measured must not share an event loop with it. Reads `DATABASE_URL`. Driven through stdin so that one
 * process (loaded once) serves every round: `start` starts the reader and answers `started`, `stop` stops it
 * (its walsender goes away) and answers `stopped`. `start full@N` starts it with a gather time of N ms,
 * `start discard` a reader that receives the WAL stream and throws it away (reading in bursts and confirming
 * as the real one does): the walsender's cost alone; `start raw` the same without node-postgres' and the
 * replication library's message handling. Both also take `@N`. Exits on SIGTERM or when stdin closes.
 */
import net from "node:net";
import { createInterface } from "node:readline";
import { LogicalReplicationService, PgoutputPlugin } from "pg-logical-replication";
import { PUBLICATION, slotNameSql } from "../lib/capture/captureNames.ts";
import { type CaptureReader, startCaptureReader } from "../lib/capture/startCaptureReader.ts";
import { createSql } from "../lib/db/client.ts";

const url = process.env.DATABASE_URL;
if (!url) throw new Error("DATABASE_URL must be set");
const sql = createSql(url, { max: 3, connection: { application_name: "bench-capture-reader" } });
let reader: CaptureReader | undefined;
/** `bench:capture --gather-ms N` (default: the reader's). */
const gatherMs = process.env.BENCH_GATHER_MS ? Number(process.env.BENCH_GATHER_MS) : undefined;

/**
 * Receives the slot's stream and drops it: no parsing past the message header, no store. Reads in bursts
 * (the socket left unread for `gather` ms after each) and confirms what it received at most every 200 ms,
 * as the capture reader does, so that the walsender works as it does for the real reader.
 */
async function startDiscardReader(raw: boolean, gather: number): Promise<CaptureReader> {
  const [{ slot }] = await sql<[{ slot: string }]>`select ${sql.unsafe(slotNameSql)} as slot`;
  let socket: net.Socket | undefined;
  const service = new LogicalReplicationService(
    {
      connectionString: url,
      application_name: "eventbus-capture",
      stream: () => {
        socket = new net.Socket({ readableHighWaterMark: 1 } as net.SocketConstructorOpts);
        return socket;
      },
    },
    { acknowledge: { auto: false, timeoutSeconds: 0 } },
  );
  const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [PUBLICATION] });
  // Only the header (the LSN) is read: the payload is never parsed.
  (plugin as unknown as { parse: () => null }).parse = () => null;
  let received = "0/0";
  let acknowledgedAt = 0;
  let acknowledging: NodeJS.Timeout | undefined;
  /** Confirms what was received, at most every 200 ms. */
  const receive = (lsn: string) => {
    received = lsn;
    acknowledging ??= setTimeout(
      () => {
        acknowledging = undefined;
        acknowledgedAt = Date.now();
        void service.acknowledge(received);
      },
      Math.max(0, 200 - (Date.now() - acknowledgedAt)),
    );
  };
  let burst: NodeJS.Immediate | undefined;
  let gathering: NodeJS.Timeout | undefined;
  let handled = 0;
  const endBurstSoon = () => {
    if (burst) return;
    const at = handled;
    burst = setImmediate(() => {
      burst = setImmediate(() => {
        burst = undefined;
        if (handled !== at) return endBurstSoon();
        socket?.pause();
        gathering = setTimeout(() => {
          gathering = undefined;
          if (!service.isStop()) socket?.resume();
        }, gather);
      });
    });
  };
  service.on("data", (lsn: string) => {
    handled++;
    receive(lsn);
    endBurstSoon();
  });
  service.on("heartbeat", (lsn: string) => receive(lsn));
  // `raw`: once streaming, the socket's bytes bypass node-postgres and the library altogether: only the
  // CopyData framing and each message's LSN are read, with nothing allocated per message.
  if (raw)
    service.once("start", () => {
      socket!.removeAllListeners("data");
      let rest: Buffer | undefined;
      socket!.on("data", (chunk: Buffer) => {
        const buffer = rest ? Buffer.concat([rest, chunk]) : chunk;
        rest = undefined;
        let at = 0;
        let high = -1;
        let low = 0;
        while (buffer.length - at >= 5) {
          const length = buffer.readUInt32BE(at + 1);
          if (buffer.length - at < 1 + length) break;
          const kind = buffer[at + 5];
          if (buffer[at] === 0x64 && (kind === 0x77 || kind === 0x6b)) {
            high = buffer.readUInt32BE(at + 6);
            low = buffer.readUInt32BE(at + 10);
            handled++;
          }
          at += 1 + length;
        }
        if (at < buffer.length) rest = buffer.subarray(at);
        if (high >= 0) receive(`${high.toString(16)}/${low.toString(16)}`);
        endBurstSoon();
      });
    });
  service.on("error", () => {});
  const running = service.subscribe(plugin, slot).catch(() => {});
  return {
    async stop() {
      clearImmediate(burst);
      clearTimeout(gathering);
      clearTimeout(acknowledging);
      await service.acknowledge(received).catch(() => false);
      await service.destroy().catch(() => {});
      await running;
    },
  };
}

async function exit(): Promise<never> {
  await reader?.stop();
  await sql.end({ timeout: 5 });
  process.exit(0);
}

createInterface({ input: process.stdin })
  .on("line", async (line) => {
    if (line.startsWith("start")) {
      // `start`, `start full@<gather ms>`, `start discard[@<gather ms>]`, `start raw[@<gather ms>]`
      const [, mode = "full", gather] = /^start(?: (full|discard|raw)(?:@(\d+))?)?$/.exec(line) ?? [];
      const gatherFor = gather === undefined ? gatherMs : Number(gather);
      reader ??=
        mode === "full"
          ? startCaptureReader({
              sql,
              databaseUrl: url,
              log: () => {},
              pollIntervalMs: 100,
              gatherMs: gatherFor,
            })
          : await startDiscardReader(mode === "raw", gatherFor ?? 30);
      process.stdout.write("started\n");
    } else if (line === "stop") {
      await reader?.stop();
      reader = undefined;
      process.stdout.write("stopped\n");
    }
  })
  .on("close", () => void exit());
process.on("SIGTERM", () => void exit());
process.stdout.write("ready\n");
