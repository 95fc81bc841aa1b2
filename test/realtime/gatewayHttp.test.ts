import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type RunningWsGateway, startWsGateway } from "../../lib/local/wsGateway.ts";

// The gateway stand-in reads `@connections` requests itself (not through Node's HTTP server), on the
// WebSocket port as API Gateway does: any client speaking HTTP/1.1 must get the answers API Gateway would
// give, in order, and nothing it sends may break the gateway for anyone else.

let gateway: RunningWsGateway;
let client: WebSocket;
const frames: string[] = [];
let connectionId: string;
let port: number;

beforeAll(async () => {
  gateway = await startWsGateway({ routes: [], port: 0 });
  port = Number(new URL(gateway.managementEndpoint).port);
  client = new WebSocket(gateway.url);
  client.on("message", (data) => frames.push(String(data)));
  await new Promise((resolve) => client.once("open", resolve));
  connectionId = gateway.connectionIds()[0]!;
});
afterAll(async () => {
  client.terminate();
  await gateway.stop();
});

/** Sends raw bytes on a fresh connection and collects everything the gateway answers until it goes quiet. */
async function exchange(request: string | Buffer, quietMs = 150): Promise<{ text: string; closed: boolean }> {
  const socket: Socket = connect(port, "127.0.0.1");
  let text = "";
  let closed = false;
  socket.on("data", (chunk) => {
    text += chunk.toString("latin1");
  });
  socket.on("close", () => {
    closed = true;
  });
  socket.on("error", () => {});
  socket.write(request);
  let length = -1;
  while (text.length !== length) {
    length = text.length;
    await new Promise((resolve) => setTimeout(resolve, quietMs));
  }
  socket.destroy();
  return { text, closed };
}

const statuses = (text: string) => [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
const post = (id: string, body: string, extra = "") =>
  `POST /local/@connections/${encodeURIComponent(id)} HTTP/1.1\r\nhost: x\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

describe("the @connections API of the gateway stand-in", () => {
  it("answers pipelined requests in order and delivers their frames in order", async () => {
    frames.length = 0;
    const { text } = await exchange(
      post(connectionId, '"one"') +
        post("unknownId000=", '"lost"') +
        `GET /local/@connections/${encodeURIComponent(connectionId)} HTTP/1.1\r\nhost: x\r\n\r\n` +
        post(connectionId, '"two"'),
    );
    expect(statuses(text)).toEqual([200, 410, 200, 200]);
    expect(text).toContain('"connectedAt"');
    await expect.poll(() => frames).toEqual(['"one"', '"two"']);
  });

  it("takes chunked bodies and expect: 100-continue", async () => {
    frames.length = 0;
    const { text } = await exchange(
      `POST /local/@connections/${encodeURIComponent(connectionId)} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nexpect: 100-continue\r\n\r\n3\r\n{"a\r\n4\r\n":1}\r\n0\r\n\r\n`,
    );
    expect(statuses(text)).toEqual([100, 200]);
    await expect.poll(() => frames).toEqual(['{"a":1}']);
  });

  it("refuses a message above 128 KB with 413 and keeps the connection", async () => {
    const { text, closed } = await exchange(
      post(connectionId, "x".repeat(130 * 1024)) + post(connectionId, '"ok"'),
    );
    expect(statuses(text)).toEqual([413, 200]);
    expect(text).toContain("PayloadTooLargeException");
    expect(closed).toBe(false);
  });

  it("answers 400 and closes on a request it cannot read, 404 off the API, 405 for other methods", async () => {
    const bad = await exchange("POST /local/@connections/abc HTTP/1.1\r\ncontent-length: nope\r\n\r\n");
    expect(statuses(bad.text)).toEqual([400]);
    expect(bad.closed).toBe(true);
    const smuggled = await exchange(
      "POST /local/@connections/abc HTTP/1.1\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    expect(statuses(smuggled.text)).toEqual([400]);
    const elsewhere = await exchange(
      "POST /local/other HTTP/1.1\r\ncontent-length: 0\r\n\r\nGET /anything HTTP/1.1\r\nhost: x\r\n\r\n",
    );
    expect(statuses(elsewhere.text)).toEqual([404, 404]);
    const put = await exchange(
      `PUT /local/@connections/${encodeURIComponent(connectionId)} HTTP/1.1\r\ncontent-length: 0\r\n\r\n`,
    );
    expect(statuses(put.text)).toEqual([405]);
    // Still serving everyone else.
    frames.length = 0;
    expect(statuses((await exchange(post(connectionId, '"still"'))).text)).toEqual([200]);
    await expect.poll(() => frames).toEqual(['"still"']);
  });

  it("answers a client that ends its side of the connection right after its request", async () => {
    frames.length = 0;
    const socket = connect(port, "127.0.0.1");
    let text = "";
    socket.on("data", (chunk) => {
      text += chunk.toString("latin1");
    });
    const closed = new Promise((resolve) => socket.on("close", resolve));
    socket.end(post(connectionId, '"half"'));
    await closed;
    expect(statuses(text)).toEqual([200]);
    await expect.poll(() => frames).toEqual(['"half"']);
  });

  it("sends an answer at once even while the previous one is unacknowledged (no Nagle delay)", async () => {
    // A GET answered right after a pipelined POST's answer: with Nagle's algorithm the second answer
    // waited for the client's delayed ACK, about 40 ms each time.
    const socket = connect(port, "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    const id = encodeURIComponent(connectionId);
    const started = performance.now();
    for (let i = 0; i < 5; i++) {
      let text = "";
      await new Promise<void>((resolve) => {
        const onData = (chunk: Buffer) => {
          text += chunk.toString("latin1");
          if (statuses(text).length === 2) {
            socket.off("data", onData);
            resolve();
          }
        };
        socket.on("data", onData);
        socket.write(`${post(connectionId, "{}")}GET /local/@connections/${id} HTTP/1.1\r\nhost: x\r\n\r\n`);
      });
      expect(statuses(text)).toEqual([200, 200]);
    }
    socket.destroy();
    expect(performance.now() - started).toBeLessThan(150);
  });

  it("closes after answering connection: close and HTTP/1.0 requests", async () => {
    const closing = await exchange(post(connectionId, '"c"', "connection: close\r\n"));
    expect(statuses(closing.text)).toEqual([200]);
    expect(closing.closed).toBe(true);
    const old = await exchange(
      `GET /local/@connections/${encodeURIComponent(connectionId)} HTTP/1.0\r\n\r\n`,
    );
    expect(old.text).toMatch(/^HTTP\/1\.1 200/);
    expect(old.closed).toBe(true);
  });
});
