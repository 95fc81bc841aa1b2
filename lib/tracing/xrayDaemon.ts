import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";

/**
 * An X-Ray segment document, the fields this bus sets (see "AWS X-Ray segment documents" in the X-Ray
 * developer guide). Times are epoch seconds with fractions.
 */
export interface XRaySegment {
  name: string;
  /** 16 hex digits. */
  id: string;
  /** `1-<8 hex epoch seconds>-<24 hex>`. */
  trace_id: string;
  /** The calling segment or subsegment (16 hex), when the work continues another service's. */
  parent_id?: string;
  start_time: number;
  end_time: number;
  origin?: string;
  error?: boolean;
  annotations?: Record<string, string | number | boolean>;
  metadata?: Record<string, Record<string, unknown>>;
}

/** Where finished segments go. */
export interface SegmentSink {
  send(segment: XRaySegment): void;
  close(): void;
}

/** A new segment id: 64 random bits as 16 hex digits. */
export const newSegmentId = (): string => randomBytes(8).toString("hex");

/** The X-Ray form of a W3C trace id (32 hex): a dash after the first 8 digits. */
export const xrayTraceId = (traceId: string): string => `1-${traceId.slice(0, 8)}-${traceId.slice(8)}`;

/**
 * Sends segments to the X-Ray daemon (the ECS sidecar, or any daemon at `address`): one UDP datagram per
 * segment, a JSON header line and the document, the daemon's documented protocol. `address` is the
 * value of `AWS_XRAY_DAEMON_ADDRESS` (`host:port`, or `tcp:host:port udp:host:port`, of which the UDP one
 * is used). Not the X-Ray SDK: importing it installs an async hook that taxes every promise of the
 * process, which a listener forwarding thousands of events a second cannot afford. Sending never throws
 * and never keeps the process alive; a segment the daemon does not get is only a gap in a trace.
 */
export function xrayDaemonSink(address: string): SegmentSink {
  const udp = /(?:^|\s)udp:(\S+)/.exec(address)?.[1] ?? address.trim();
  const colon = udp.lastIndexOf(":");
  const host = udp.slice(0, colon) || "127.0.0.1";
  const port = Number(udp.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`AWS_XRAY_DAEMON_ADDRESS '${address}' is not host:port`);
  }
  const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
  socket.unref();
  socket.on("error", () => {});
  return {
    send(segment) {
      const datagram = Buffer.from(`{"format":"json","version":1}\n${JSON.stringify(segment)}`);
      socket.send(datagram, port, host, () => {});
    },
    close() {
      socket.close();
    },
  };
}
