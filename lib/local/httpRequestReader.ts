import type { Socket } from "node:net";

/** One HTTP/1.1 request read by `readHttpRequests`. */
export interface PlainHttpRequest {
  method: string;
  /** The request target as sent (path and query). */
  target: string;
  /** The body; empty when it was longer than `maxBodyBytes` (then `bodyTooLarge`). */
  body: Buffer;
  bodyTooLarge: boolean;
}

/** Answers one request; the answers of a connection go out in the order of its requests. */
export type HttpReply = (status: number, headers?: Record<string, string>, body?: string) => void;

export interface HttpRequestReaderOptions {
  /** Bodies above this are not kept (the request still arrives, with `bodyTooLarge`). */
  maxBodyBytes: number;
  onRequest: (request: PlainHttpRequest, reply: HttpReply) => void;
}

const reasons: Record<number, string> = {
  100: "Continue",
  200: "OK",
  204: "No Content",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  410: "Gone",
  413: "Payload Too Large",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
};

const CRLF = Buffer.from("\r\n");
const CRLF2 = Buffer.from("\r\n\r\n");
const MAX_HEAD_BYTES = 16 * 1024;
/** The answer nearly every post gets, encoded once. */
const OK_EMPTY = Buffer.from("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", "latin1");

enum Phase {
  Head,
  Body,
  ChunkSize,
  ChunkData,
  Trailers,
}

/**
 * Reads HTTP/1.1 requests from `socket` (pipelined ones too), starting with the bytes in `first`, and
 * hands each to `onRequest` with a function that answers it. Written for the gateway stand-in's
 * `@connections` API, which a broadcast calls once per WebSocket connection: Node's HTTP server spent
 * more CPU per request (a request and a response object, streams and events for each) than the frame it
 * passes on costs to send. Bodies with `content-length` or chunked; `expect: 100-continue`; keep-alive,
 * closed after an answer to `connection: close` or HTTP/1.0. A request that cannot be read is answered
 * 400 (or 431) and the connection closed: nothing a client sends throws.
 */
export function readHttpRequests(socket: Socket, first: Buffer, options: HttpRequestReaderOptions) {
  let carry: Buffer | undefined;
  let phase = Phase.Head;
  let method = "";
  let target = "";
  let keepAlive = true;
  let remaining = 0;
  let chunks: Buffer[] = [];
  let bodyBytes = 0;
  let tooLarge = false;
  let closing = false;
  // Answers in request order: a slot per request, written out from the front as they fill. Numbering
  // starts again whenever every request so far has been answered.
  const slots: Array<Buffer | undefined> = [];
  let slotsHead = 0;
  let closeAfter = false;

  const flush = () => {
    let end = slotsHead;
    while (end < slots.length && slots[end] !== undefined) end++;
    if (end === slotsHead) return;
    const ready =
      end - slotsHead === 1 ? slots[slotsHead]! : Buffer.concat(slots.slice(slotsHead, end) as Buffer[]);
    slotsHead = end;
    const drained = slotsHead === slots.length;
    if (drained) {
      slots.length = 0;
      slotsHead = 0;
    }
    if (!socket.writable) return;
    socket.write(ready);
    // The request that asked to close is the last one read, so its answer is the last of all.
    if (drained && closeAfter) socket.end();
  };

  const replier = (slot: number, close: boolean): HttpReply => {
    let answered = false;
    return (status, headers, body) => {
      if (answered) return;
      answered = true;
      let answer: Buffer;
      if (status === 200 && !headers && !body && !close) answer = OK_EMPTY;
      else {
        const text = status === 204 ? "" : (body ?? "");
        let head = `HTTP/1.1 ${status} ${reasons[status] ?? "Status"}\r\n`;
        for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
        if (status !== 204) head += `content-length: ${Buffer.byteLength(text)}\r\n`;
        if (close) head += "connection: close\r\n";
        answer = Buffer.from(`${head}\r\n${text}`, "utf8");
      }
      slots[slot] = answer;
      flush();
    };
  };

  const newSlot = (close: boolean): number => {
    if (close) {
      closing = true;
      closeAfter = true;
    }
    slots.push(undefined);
    return slots.length - 1;
  };

  const refuse = (status: number) => {
    replier(newSlot(true), true)(status);
  };

  const dispatch = () => {
    const close = !keepAlive;
    const slot = newSlot(close);
    const request: PlainHttpRequest = {
      method,
      target,
      body: tooLarge ? Buffer.alloc(0) : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
      bodyTooLarge: tooLarge,
    };
    chunks = [];
    bodyBytes = 0;
    tooLarge = false;
    phase = Phase.Head;
    const reply = replier(slot, close);
    try {
      options.onRequest(request, reply);
    } catch {
      reply(500);
    }
  };

  const keepBody = (data: Buffer, start: number, end: number) => {
    if (end <= start || tooLarge) return;
    bodyBytes += end - start;
    if (bodyBytes > options.maxBodyBytes) {
      tooLarge = true;
      chunks = [];
      return;
    }
    chunks.push(data.subarray(start, end));
  };

  /** Reads a request head; false when the request was refused. */
  const readHead = (head: string): boolean => {
    const lines = head.split("\r\n");
    const [requestMethod, requestTarget, version, extra] = lines[0]!.split(" ");
    if (!requestMethod || !requestTarget || extra !== undefined || !version?.startsWith("HTTP/1.")) {
      refuse(400);
      return false;
    }
    method = requestMethod;
    target = requestTarget;
    keepAlive = version !== "HTTP/1.0";
    let length: number | undefined;
    let chunked = false;
    let expectContinue = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(":");
      if (colon <= 0) {
        refuse(400);
        return false;
      }
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === "content-length") {
        const n = /^\d{1,15}$/.test(value) ? Number(value) : Number.NaN;
        if (Number.isNaN(n) || (length !== undefined && length !== n)) {
          refuse(400);
          return false;
        }
        length = n;
      } else if (name === "transfer-encoding") {
        if (value.toLowerCase() !== "chunked") {
          refuse(400);
          return false;
        }
        chunked = true;
      } else if (name === "connection") {
        const tokens = value.toLowerCase();
        if (tokens.includes("close")) keepAlive = false;
        else if (tokens.includes("keep-alive")) keepAlive = true;
      } else if (name === "expect" && value.toLowerCase() === "100-continue") expectContinue = true;
    }
    if (chunked && length !== undefined) {
      refuse(400); // request smuggling's favourite ambiguity
      return false;
    }
    if (expectContinue && socket.writable) socket.write("HTTP/1.1 100 Continue\r\n\r\n");
    if (chunked) phase = Phase.ChunkSize;
    else if (length) {
      remaining = length;
      phase = Phase.Body;
    } else dispatch();
    return true;
  };

  const onData = (chunk: Buffer) => {
    if (closing) return;
    let data = chunk;
    if (carry) {
      data = Buffer.concat([carry, chunk]);
      carry = undefined;
    }
    let offset = 0;
    while (offset < data.length && !closing) {
      switch (phase) {
        case Phase.Head: {
          const end = data.indexOf(CRLF2, offset);
          if (end === -1) {
            if (data.length - offset > MAX_HEAD_BYTES) return refuse(431);
            carry = Buffer.from(data.subarray(offset));
            return;
          }
          if (end - offset > MAX_HEAD_BYTES) return refuse(431);
          const head = data.toString("latin1", offset, end);
          offset = end + 4;
          if (!readHead(head)) return;
          break;
        }
        case Phase.Body: {
          const n = Math.min(remaining, data.length - offset);
          keepBody(data, offset, offset + n);
          remaining -= n;
          offset += n;
          if (remaining === 0) dispatch();
          break;
        }
        case Phase.ChunkSize:
        case Phase.Trailers: {
          const end = data.indexOf(CRLF, offset);
          if (end === -1) {
            if (data.length - offset > MAX_HEAD_BYTES) return refuse(431);
            carry = Buffer.from(data.subarray(offset));
            return;
          }
          const line = data.toString("latin1", offset, end);
          offset = end + 2;
          if (phase === Phase.Trailers) {
            if (line === "") dispatch();
            break;
          }
          const size = /^[0-9a-fA-F]{1,12}(;.*)?$/.test(line) ? Number.parseInt(line, 16) : Number.NaN;
          if (Number.isNaN(size)) return refuse(400);
          if (size === 0) phase = Phase.Trailers;
          else {
            remaining = size + 2;
            phase = Phase.ChunkData;
          }
          break;
        }
        case Phase.ChunkData: {
          // `remaining` counts the chunk's data and the CRLF after it; only the data is kept.
          const n = Math.min(remaining, data.length - offset);
          keepBody(data, offset, offset + Math.min(n, Math.max(0, remaining - 2)));
          remaining -= n;
          offset += n;
          if (remaining === 0) phase = Phase.ChunkSize;
          break;
        }
      }
    }
  };

  socket.on("data", onData);
  socket.on("error", () => {});
  // The client sent its last request: answer what it asked, then close.
  socket.on("end", () => {
    closing = true;
    closeAfter = true;
    if (slots.length === 0) socket.end();
  });
  onData(first);
}
