/**
 * The WebSocket clients of `bench:fanout`, in a process of their own: clients do not share the bus's event
 * loop (on AWS they are on other machines), so their parsing does not slow the delivery measured. Messages
 * from the bench: `connect` (open sockets, optionally subscribe), `expect` (report arrival times of a key
 * once every client has it, or at the deadline), `cpu` (the CPU used so far), `close`.
 */
import { randomBytes } from "node:crypto";

// A clean exit on SIGTERM, so that a process run with `--cpu-prof` writes its profile; and with the
// bench, should it die without stopping its children.
process.on("SIGTERM", () => process.exit(0));
process.on("disconnect", () => process.exit(0));

import WebSocket from "ws";

export type ClientCommand =
  | { cmd: "connect"; group: string; url: string; count: number; topics: string[] }
  | { cmd: "expect"; key: string; count: number; deadline: number }
  | { cmd: "cpu" }
  | { cmd: "close" };

/** A clock shared with the main thread (each thread's `performance.now()` has its own origin). */
const now = () => performance.timeOrigin + performance.now();
const arrivals = new Map<string, number[]>();
/** `expect`s waiting for a key, woken by the frame that completes it (polling would add CPU per round). */
const waiters = new Map<string, { count: number; done: () => void }>();
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
    let list = arrivals.get(key);
    if (!list) {
      list = [];
      arrivals.set(key, list);
    }
    list.push(at);
    const waiter = waiters.get(key);
    if (waiter && list.length >= waiter.count) waiter.done();
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
  if ((arrivals.get(command.key)?.length ?? 0) < command.count) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.max(0, command.deadline - now()));
      function done() {
        clearTimeout(timer);
        waiters.delete(command.key);
        resolve();
      }
      waiters.set(command.key, { count: command.count, done });
    });
  }
  return arrivals.get(command.key) ?? [];
}

const reply = (message: unknown) => process.send!(message);
process.on("message", async (command: ClientCommand) => {
  try {
    if (command.cmd === "connect") {
      await connect(command);
      reply({ ok: true });
    } else if (command.cmd === "expect") {
      reply({ ok: true, times: await expect(command) });
    } else if (command.cmd === "cpu") {
      const usage = process.cpuUsage();
      reply({ ok: true, ms: (usage.user + usage.system) / 1000 });
    } else {
      for (const socket of sockets) socket.terminate();
      reply({ ok: true });
    }
  } catch (error) {
    reply({ ok: false, error: (error as Error).message });
  }
});
