import { createServer as createHttpServer, type Server } from "node:http";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type RunningWsGateway, startWsGateway } from "../../lib/local/wsGateway.ts";
import { type ConnectionPoster, createConnectionPoster } from "../../lib/realtime/connectionPoster.ts";

// The broadcaster's own HTTP/1.1 client for PostToConnection: every post must come back as what API
// Gateway answered (sent, gone, or the error type), over kept-alive connections, whatever framing the
// answer uses, and a post must never hang or be lost silently when a connection dies under it.

const credentials = async () => ({ accessKeyId: "test", secretAccessKey: "test" });
const encoder = new TextEncoder();
const posters: ConnectionPoster[] = [];
const poster = (
  endpoint: string,
  extra: { maxSockets?: number; timeoutMs?: number; keepAliveMs?: number } = {},
) => {
  const created = createConnectionPoster({
    endpoint,
    region: "us-east-1",
    credentials,
    maxSockets: 4,
    ...extra,
  });
  posters.push(created);
  return created;
};
afterEach(() => {
  for (const p of posters.splice(0)) p.close();
});

async function listening<T extends Server | ReturnType<typeof createServer>>(server: T) {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/stage`;
}

describe("posting through the gateway stand-in", () => {
  let gateway: RunningWsGateway;
  const clients: WebSocket[] = [];
  const received = new Map<WebSocket, string[]>();
  beforeAll(async () => {
    gateway = await startWsGateway({ routes: [], port: 0 });
    for (let i = 0; i < 20; i++) {
      const client = new WebSocket(gateway.url);
      received.set(client, []);
      client.on("message", (data) => received.get(client)!.push(String(data)));
      await new Promise((resolve) => client.once("open", resolve));
      clients.push(client);
    }
  });
  afterAll(async () => {
    for (const client of clients) client.terminate();
    await gateway.stop();
  });

  it("delivers every post in order per connection over at most maxSockets connections", async () => {
    const opened = new Set<string>();
    const ids = gateway.connectionIds();
    const p = poster(gateway.managementEndpoint, { maxSockets: 3 });
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, (_, round) =>
        ids.map((id) => p.post(id, encoder.encode(JSON.stringify({ round, id })))),
      ).flat(),
    );
    expect(outcomes.every((outcome) => outcome === "sent")).toBe(true);
    for (const client of clients) {
      await expect.poll(() => received.get(client)!.length).toBe(5);
      expect(received.get(client)!.map((frame) => JSON.parse(frame).round)).toEqual([0, 1, 2, 3, 4]);
      opened.add(JSON.parse(received.get(client)![0]!).id);
    }
    expect(opened.size).toBe(20);
  });

  it("answers gone for an unknown connection and PayloadTooLargeException above 128 KB", async () => {
    const p = poster(gateway.managementEndpoint);
    expect(await p.post("nobodyHere0=", encoder.encode("{}"))).toBe("gone");
    const error = await p.post(gateway.connectionIds()[0]!, new Uint8Array(140 * 1024)).catch((e) => e);
    expect(error).toMatchObject({ name: "PayloadTooLargeException", $metadata: { httpStatusCode: 413 } });
    // The connection that carried the refusal still carries the next post.
    expect(await p.post(gateway.connectionIds()[0]!, encoder.encode('"after"'))).toBe("sent");
  });
});

describe("answers in any HTTP/1.1 framing", () => {
  let server: Server;
  let endpoint: string;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    server = createHttpServer((req, res) => {
      req.resume();
      const mode = decodeURIComponent(req.url!.split("/").pop()!);
      if (mode === "chunked") {
        res.writeHead(200, { "content-type": "application/json" });
        res.write('{"a":');
        res.end("1}"); // no content-length: Node sends it chunked
      } else if (mode === "close") {
        res.writeHead(410, { connection: "close", "x-amzn-errortype": "GoneException" });
        res.end('{"message":null}');
      } else if (mode === "throttled") {
        res.writeHead(429, { "x-amzn-errortype": "LimitExceededException:http://internal.amazon.com/" });
        res.end("{}");
      } else {
        res.writeHead(200, { "content-length": 0 });
        res.end();
      }
    });
    server.on("connection", (socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    endpoint = await listening(server);
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("reads chunked answers, error types and connection: close, and keeps posting after each", async () => {
    const p = poster(endpoint, { maxSockets: 1 });
    const data = encoder.encode("{}");
    expect(await p.post("chunked", data)).toBe("sent");
    expect(await p.post("close", data)).toBe("gone");
    expect(await p.post("throttled", data).catch((e) => e)).toMatchObject({
      name: "LimitExceededException",
      $metadata: { httpStatusCode: 429 },
    });
    expect(await p.post("chunked", data)).toBe("sent");
    expect(await p.post("plain", data)).toBe("sent");
  });

  it("opens a new connection when the server closed an idle one", async () => {
    const p = poster(endpoint, { maxSockets: 1 });
    expect(await p.post("plain", encoder.encode("{}"))).toBe("sent");
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await p.post("plain", encoder.encode("{}"))).toBe("sent");
  });
});

describe("answers that never come or come apart", () => {
  it("fails a post transiently when no answer arrives in time, and one whose connection closes", async () => {
    const silent = createServer((socket) => socket.on("data", () => {}));
    const hangUp = createServer((socket) => socket.on("data", () => socket.destroy()));
    const [silentEndpoint, hangUpEndpoint] = [await listening(silent), await listening(hangUp)];
    try {
      const started = Date.now();
      const late = await poster(silentEndpoint, { timeoutMs: 300 })
        .post("abc", encoder.encode("{}"))
        .catch((e) => e);
      expect(late).toMatchObject({ code: "ECONNRESET" });
      expect(Date.now() - started).toBeLessThan(3000);
      const cut = await poster(hangUpEndpoint)
        .post("abc", encoder.encode("{}"))
        .catch((e) => e);
      expect(cut).toMatchObject({ code: "ECONNRESET" });
    } finally {
      silent.close();
      hangUp.close();
    }
  });

  it("reads an answer that arrives a byte at a time, then the next one on the same connection", async () => {
    const answer =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 410 Gone\r\nTransfer-Encoding: chunked\r\nX-Amzn-ErrorType: GoneException\r\n\r\n4\r\nnull\r\n0\r\n\r\n";
    const trickle = createServer((socket) => {
      socket.on("data", async () => {
        for (const byte of answer) {
          socket.write(byte);
          await new Promise((resolve) => setImmediate(resolve));
        }
      });
    });
    const endpoint = await listening(trickle);
    try {
      const p = poster(endpoint, { maxSockets: 1 });
      expect(await p.post("abc", encoder.encode("{}"))).toBe("gone");
      expect(await p.post("abc", encoder.encode("{}"))).toBe("gone");
    } finally {
      trickle.close();
    }
  });
});
