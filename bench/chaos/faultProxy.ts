import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface FaultProxyOptions {
  /** The real endpoint, e.g. the SQS stand-in's `http://127.0.0.1:1234`. */
  target: string;
  /** Share of calls that fail (0..1). Half fail before the target sees them, half after it answered. */
  failureRate: number;
  /** Extra latency added to every call, uniformly between the two bounds (ms). */
  latencyMs: [number, number];
  /** Deterministic faults for a given seed (a tiny LCG): runs can be reproduced. */
  random: () => number;
}

export interface FaultCounts {
  calls: number;
  /** 500 or 503 before forwarding: the target never saw the call. */
  refused: number;
  /** Connection reset before forwarding. */
  resetBefore: number;
  /** Forwarded and answered by the target, then the connection reset: the caller cannot know it worked. */
  resetAfter: number;
}

export interface RunningFaultProxy {
  endpoint: string;
  counts: FaultCounts;
  /** Turns faults and latency on or off (off for the drain at the end of a run). */
  setEnabled(enabled: boolean): void;
  stop(): Promise<void>;
}

const sqsError = (status: number) =>
  JSON.stringify({
    __type: status === 503 ? "com.amazonaws.sqs#ServiceUnavailable" : "com.amazonaws.sqs#InternalError",
    message: "injected by the chaos proxy",
  });

/**
 * An HTTP proxy in front of an AWS stand-in that fails a share of calls the ways a real network and a real
 * service do: 500 and 503 answers (retryable for the SDK), connection resets before the request reaches the
 * service, and resets after the service acted on it (the caller retries something that already happened,
 * which is how duplicates arise). Every call also waits a random latency.
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<RunningFaultProxy> {
  const target = new URL(options.target);
  const counts: FaultCounts = { calls: 0, refused: 0, resetBefore: 0, resetAfter: 0 };
  let enabled = true;
  const server: Server = createServer((req, res) => {
    counts.calls++;
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const [min, max] = options.latencyMs;
      const delay = enabled ? min + options.random() * (max - min) : 0;
      setTimeout(() => {
        const dice = enabled ? options.random() : 1;
        const share = options.failureRate / 4;
        if (dice < share) {
          counts.refused++;
          const status = options.random() < 0.5 ? 500 : 503;
          res.writeHead(status, { "content-type": "application/x-amz-json-1.0" });
          res.end(sqsError(status));
          return;
        }
        if (dice < 2 * share) {
          counts.resetBefore++;
          req.socket.destroy();
          return;
        }
        const resetAfter = dice < options.failureRate;
        const upstream = request(
          {
            host: target.hostname,
            port: target.port,
            method: req.method,
            path: req.url,
            headers: { ...req.headers, host: target.host },
          },
          (answer) => {
            const body: Buffer[] = [];
            answer.on("data", (chunk: Buffer) => body.push(chunk));
            answer.on("end", () => {
              if (resetAfter) {
                counts.resetAfter++;
                req.socket.destroy();
                return;
              }
              res.writeHead(answer.statusCode ?? 502, answer.headers);
              res.end(Buffer.concat(body));
            });
          },
        );
        upstream.on("error", () => req.socket.destroy());
        upstream.end(Buffer.concat(chunks));
      }, delay);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts,
    setEnabled: (value) => {
      enabled = value;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A small seeded generator (mulberry32), so a run's faults and poison can be replayed with `--seed`. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
