/**
 * The WebSocket clients of `bench:fanout`, in a worker thread of their own: clients do not share the bus's
 * event loop (on AWS they are on other machines), so their parsing does not slow the delivery measured.
 * Messages from the main thread: `connect` (open sockets, optionally subscribe), `expect` (report arrival
 * times of a key once every client has it, or at the deadline), `close`.
 */
import { randomBytes } from "node:crypto";
import { parentPort as workerPort } from "node:worker_threads";

type Listener = (message: any) => void;
/** The parent, whether this module runs in a worker thread or in a child process (`fork`). */
const parentPort = workerPort ?? {
  postMessage: (message: unknown) => process.send!(message),
  on: (_event: "message", listener: Listener) => process.on("message", listener),
  once: (_event: "message", listener: Listener) => process.once("message", listener),
};

import WebSocket from "ws";

export type ClientCommand =
  | { cmd: "connect"; group: string; url: string; count: number; topics: string[] }
  | { cmd: "expect"; key: string; count: number; deadline: number }
  | { cmd: "close" };

/** A clock shared with the main thread (each thread's `performance.now()` has its own origin). */
const now = () => performance.timeOrigin + performance.now();
const arrivals = new Map<string, number[]>();
const sockets: WebSocket[] = [];

function onFrame(data: WebSocket.RawData) {
  const at = now();
  const frame = JSON.parse(data.toString()) as {
    type: string;
    data?: { key?: string };
    events?: Array<{ data?: { key?: string } }>;
  };
  const keys =
    frame.type === "events"
      ? (frame.events ?? []).map((e) => e.data?.key)
      : frame.type === "message"
        ? [frame.data?.key]
        : [];
  for (const key of keys) {
    if (!key) continue;
    const list = arrivals.get(key);
    if (list) list.push(at);
    else arrivals.set(key, [at]);
  }
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once("open", () => resolve(socket));
    socket.once("error", reject);
  });
}

function subscribe(socket: WebSocket, topic: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const id = randomBytes(6).toString("hex");
    const onMessage = (data: WebSocket.RawData) => {
      const reply = JSON.parse(data.toString()) as { id?: string; type: string; message?: string };
      if (reply.id !== id) return;
      socket.off("message", onMessage);
      if (reply.type === "ack") resolve();
      else reject(new Error(`subscribe refused: ${reply.message}`));
    };
    socket.on("message", onMessage);
    socket.send(JSON.stringify({ action: "subscribe", id, topic }));
  });
}

async function connect(command: Extract<ClientCommand, { cmd: "connect" }>) {
  let next = 0;
  const opened: WebSocket[] = [];
  // 50 handshakes at a time, like a crowd arriving rather than a single burst.
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < command.count) {
        next++;
        const socket = await open(command.url);
        for (const topic of command.topics) await subscribe(socket, topic);
        socket.on("message", onFrame);
        opened.push(socket);
      }
    }),
  );
  sockets.push(...opened);
}

async function expect(command: Extract<ClientCommand, { cmd: "expect" }>) {
  while ((arrivals.get(command.key)?.length ?? 0) < command.count && now() < command.deadline) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return arrivals.get(command.key) ?? [];
}

parentPort!.on("message", async (command: ClientCommand) => {
  try {
    if (command.cmd === "connect") {
      await connect(command);
      parentPort!.postMessage({ ok: true });
    } else if (command.cmd === "expect") {
      parentPort!.postMessage({ ok: true, times: await expect(command) });
    } else {
      for (const socket of sockets) socket.terminate();
      parentPort!.postMessage({ ok: true });
    }
  } catch (error) {
    parentPort!.postMessage({ ok: false, error: (error as Error).message });
  }
});
