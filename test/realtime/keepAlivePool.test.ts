import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createKeepAlivePool, KeepAliveError } from "../../lib/realtime/keepAlivePool.ts";

// The broadcaster's HTTP/1.1 client, against a server that answers each request with whatever bytes a
// test scripts: it must read every shape of response an HTTP/1.1 server may send, reuse sockets only when
// the server allows it, and fail a request (never hang or mix up answers) when the server misbehaves.

interface Scripted {
  server: Server;
  url: URL;
  /** Sockets the server accepted. */
  accepted: Socket[];
  /** Requests received, as text. */
  requests: string[];
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A server that calls `answer` once per complete request (head + `content-length` body). */
async function scripted(answer: (socket: Socket, index: number) => void): Promise<Scripted> {
  const accepted: Socket[] = [];
  const requests: string[] = [];
  const server = createServer((socket) => {
    accepted.push(socket);
    let buffer = "";
    socket.setEncoding("latin1");
    socket.on("error", () => {});
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      for (;;) {
        const headEnd = buffer.indexOf("\r\n\r\n");
        if (headEnd === -1) return;
        const length = Number(/content-length: (\d+)/i.exec(buffer.slice(0, headEnd))?.[1] ?? 0);
        if (buffer.length < headEnd + 4 + length) return;
        requests.push(buffer.slice(0, headEnd + 4 + length));
        buffer = buffer.slice(headEnd + 4 + length);
        answer(socket, requests.length - 1);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { server, url: new URL(`http://127.0.0.1:${port}`), accepted, requests };
}

const head = (path: string, body: Uint8Array) =>
  `POST ${path} HTTP/1.1\r\nhost: test\r\ncontent-length: ${body.byteLength}\r\n\r\n`;
const body = new TextEncoder().encode('{"type":"message"}');

describe("the keep-alive pool", () => {
  it("reads Content-Length, chunked and interim responses, and reuses the socket after each", async () => {
    const answers = [
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
      'HTTP/1.1 410 Gone\r\nx-amzn-ErrorType: GoneException:http://internal\r\ncontent-length: 16\r\n\r\n{"message":null}',
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nabcd\r\n0\r\nX-Trailer: 1\r\n\r\n",
      "HTTP/1.1 204 No Content\r\n\r\n",
    ];
    const s = await scripted((socket, index) => {
      // Byte by byte: a response may arrive in any number of pieces.
      const text = answers[index]!;
      for (let i = 0; i < text.length; i++) socket.write(text[i]!);
    });
    const pool = createKeepAlivePool({ url: s.url, maxSockets: 1, wantHeaders: ["x-amzn-errortype"] });
    const responses = [];
    for (let i = 0; i < answers.length; i++) responses.push(await pool.request(head(`/r${i}`, body), body));
    expect(responses).toEqual([
      { status: 200, headers: {} },
      { status: 410, headers: { "x-amzn-errortype": "GoneException:http://internal" } },
      { status: 200, headers: {} },
      { status: 204, headers: {} },
    ]);
    expect(s.accepted).toHaveLength(1);
    expect(s.requests[1]).toBe(`${head("/r1", body)}{"type":"message"}`);
    pool.close();
  });

  it("opens at most maxSockets sockets and sends the other requests as sockets free up, in order", async () => {
    const s = await scripted((socket) => {
      setTimeout(() => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 5);
    });
    const pool = createKeepAlivePool({ url: s.url, maxSockets: 3 });
    const statuses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => pool.request(head(`/n${i}`, body), body)),
    );
    expect(statuses.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(s.accepted).toHaveLength(3);
    expect(s.requests.map((r) => Number(/\/n(\d+)/.exec(r)![1]))).toEqual(
      Array.from({ length: 20 }, (_, i) => i),
    );
    pool.close();
  });

  it("retires a socket the server closes, or answers with Connection: close, and opens a new one", async () => {
    const s = await scripted((socket, index) => {
      if (index === 0) socket.end("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      else if (index === 1) socket.end("HTTP/1.0 200 OK\r\n\r\nbody up to the close");
      else socket.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    });
    const pool = createKeepAlivePool({ url: s.url, maxSockets: 1 });
    for (let i = 0; i < 3; i++) expect((await pool.request(head("/c", body), body)).status).toBe(200);
    // The server also drops an idle socket: the next request goes out on a fresh one.
    s.accepted[2]!.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await pool.request(head("/c", body), body)).status).toBe(200);
    expect(s.accepted).toHaveLength(4);
    pool.close();
  });

  it("fails the request, not the pool, when the server resets, stalls or answers garbage", async () => {
    const s = await scripted((socket, index) => {
      if (index === 0) socket.destroy();
      else if (index === 1) socket.write("SSH-2.0-OpenSSH\r\n\r\n");
      else if (index === 2) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort");
      else socket.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    });
    const pool = createKeepAlivePool({ url: s.url, maxSockets: 1, timeoutMs: 300 });
    const failures = [];
    for (let i = 0; i < 3; i++) {
      failures.push(await pool.request(head("/f", body), body).catch((error: unknown) => error));
    }
    expect(failures.map((e) => [e instanceof KeepAliveError, (e as KeepAliveError).code])).toEqual([
      [true, "ECONNRESET"],
      [true, "EPROTO"],
      [true, "ETIMEDOUT"],
    ]);
    expect((await pool.request(head("/f", body), body)).status).toBe(200);
    pool.close();
  });

  it("fails requests to an endpoint that refuses connections", async () => {
    const s = await scripted(() => {});
    await new Promise((resolve) => s.server.close(resolve));
    servers.splice(servers.indexOf(s.server), 1);
    const pool = createKeepAlivePool({ url: s.url, maxSockets: 2 });
    const errors = await Promise.all(
      [1, 2, 3].map(() => pool.request(head("/x", body), body).catch((error: unknown) => error)),
    );
    expect(errors.map((e) => (e as KeepAliveError).code)).toEqual([
      "ECONNREFUSED",
      "ECONNREFUSED",
      "ECONNREFUSED",
    ]);
  });
});
