/**
 * W3C Trace Context (`traceparent`) and its AWS X-Ray equivalent. The bus carries the producer's trace as
 * the CloudEvents `traceparent` extension attribute (CloudEvents Distributed Tracing extension), so one
 * trace can show append → listener → SQS → consumer. Everything here is string work: no SDK, no I/O.
 */
import { randomBytes } from "node:crypto";

/** A parsed `traceparent`: version 00, a 32-hex trace id, a 16-hex parent span id and the sampled flag. */
export interface TraceContext {
  traceId: string;
  parentId: string;
  sampled: boolean;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const XRAY_ROOT = /(?:^|;)\s*Root=1-([0-9a-f]{8})-([0-9a-f]{24})\s*(?:;|$)/i;
const XRAY_PARENT = /(?:^|;)\s*Parent=([0-9a-f]{16})\s*(?:;|$)/i;
const XRAY_SAMPLED = /(?:^|;)\s*Sampled=([01?])\s*(?:;|$)/i;

/**
 * Parses a W3C `traceparent`; `undefined` for anything malformed, including the all-zero ids the spec
 * forbids, so a bad header from a client is ignored rather than propagated.
 */
export function parseTraceparent(value: unknown): TraceContext | undefined {
  if (typeof value !== "string") return undefined;
  const match = TRACEPARENT.exec(value.trim());
  if (!match) return undefined;
  const [, traceId, parentId, flags] = match as unknown as [string, string, string, string];
  if (/^0+$/.test(traceId) || /^0+$/.test(parentId)) return undefined;
  return { traceId, parentId, sampled: (Number.parseInt(flags, 16) & 1) === 1 };
}

/** Formats a trace context as a W3C `traceparent`. */
export const formatTraceparent = (context: TraceContext): string =>
  `00-${context.traceId}-${context.parentId}-${context.sampled ? "01" : "00"}`;

/** A parsed X-Ray trace header: the root trace id, and the parent and sampling decision when given. */
export interface XRayTrace {
  traceId: string;
  parentId?: string;
  /** `undefined` when the header leaves the decision open (`Sampled=?` or no `Sampled`). */
  sampled?: boolean;
}

/**
 * Reads an X-Ray trace header in any of the forms AWS documents: `Root=1-5759e988-bd862e3fe1be46a994272793`
 * (what API Gateway and load balancers add to a request, with no parent), with `;Sampled=1`, with
 * `;Parent=53995c3f42cd8ad8;Sampled=1` (what Lambda passes as `_X_AMZN_TRACE_ID`, possibly with
 * `;Lineage=...`), and with `Self=...` before the root. X-Ray's trace id is the W3C one with a dash after
 * its first 8 digits (the epoch seconds), so the two convert without loss.
 */
export function parseXRayHeader(header: unknown): XRayTrace | undefined {
  if (typeof header !== "string") return undefined;
  const root = XRAY_ROOT.exec(header);
  if (!root) return undefined;
  const traceId = `${root[1]}${root[2]}`.toLowerCase();
  if (/^0+$/.test(traceId)) return undefined;
  const parent = XRAY_PARENT.exec(header)?.[1]?.toLowerCase();
  const sampled = XRAY_SAMPLED.exec(header)?.[1];
  return {
    traceId,
    ...(parent && !/^0+$/.test(parent) ? { parentId: parent } : {}),
    ...(sampled === "1" ? { sampled: true } : sampled === "0" ? { sampled: false } : {}),
  };
}

/** A new W3C span (parent) id: 64 random bits as 16 hex digits. */
export const newSpanId = (): string => randomBytes(8).toString("hex");

/**
 * An X-Ray trace header as a W3C trace context. A header with no `Parent` (API Gateway's and the load
 * balancers' `Root=...` alone) still names the trace: the work it starts gets a new span id from
 * `mintParentId`. An open sampling decision becomes "not sampled" (flags 00): nobody upstream records it.
 */
export function fromXRayHeader(
  header: unknown,
  mintParentId: () => string = newSpanId,
): TraceContext | undefined {
  const trace = parseXRayHeader(header);
  if (!trace) return undefined;
  return {
    traceId: trace.traceId,
    parentId: trace.parentId ?? mintParentId(),
    sampled: trace.sampled === true,
  };
}

/** The X-Ray trace header of a trace context, e.g. for SQS's `AWSTraceHeader` message system attribute. */
export const toXRayHeader = (context: TraceContext): string =>
  `Root=1-${context.traceId.slice(0, 8)}-${context.traceId.slice(8)};Parent=${context.parentId};Sampled=${
    context.sampled ? 1 : 0
  }`;

/**
 * The trace of a request as a W3C `traceparent`: its W3C `traceparent` header when valid, else its X-Ray
 * header (`x-amzn-trace-id`, also the `Root=...` alone that API Gateway adds). `undefined` when the request
 * carries neither, which is the local default.
 */
export function traceparentForRequest(
  headers: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const lower = (name: string) => headers[name] ?? headers[name.toLowerCase()];
  const w3c = parseTraceparent(lower("traceparent"));
  if (w3c) return formatTraceparent(w3c);
  const xray = fromXRayHeader(lower("x-amzn-trace-id"));
  return xray ? formatTraceparent(xray) : undefined;
}

/**
 * The `traceparent` an append stamps on the events that carry none of their own (see `withTraceparent`:
 * a valid one the producer put on an event is kept, as the CloudEvents distributed tracing extension
 * asks: it names the trace that started the event). In order of precedence:
 *
 * 1. `lambdaTrace`, the X-Ray header of the append handler's own work on Lambda: the trace's `Root`, the
 *    handler's (sub)segment as `Parent`, and its `Sampled` decision. The append, the listener's hop, SQS and
 *    the consumer are then one X-Ray trace. It wins over a request's W3C `traceparent` header because the
 *    handler's segment cannot move into another trace: X-Ray has already placed it in the request's.
 * 2. The request's own trace (`traceparentForRequest`): locally, or where the function is not traced.
 *
 * @example
 * const traceparent = traceparentForAppend({ lambdaTrace: process.env._X_AMZN_TRACE_ID, headers });
 */
export function traceparentForAppend(options: {
  lambdaTrace?: string | undefined;
  headers: Readonly<Record<string, string | undefined>>;
}): string | undefined {
  const own = parseXRayHeader(options.lambdaTrace);
  if (own?.parentId) {
    return formatTraceparent({ traceId: own.traceId, parentId: own.parentId, sampled: own.sampled === true });
  }
  return traceparentForRequest(options.headers);
}

/**
 * Adds `traceparent` to an event's attributes unless the producer set a valid one (the producer's trace
 * wins: it started the work). Returns the attributes unchanged when there is nothing to add.
 *
 * @example
 * const traceparent = traceparentForAppend({ lambdaTrace, headers });
 * const stamped = events.map((e) => withTraceparent(e, traceparent));
 */
export function withTraceparent<T extends Record<string, unknown>>(
  attributes: T,
  traceparent: string | undefined,
): T {
  if (traceparent === undefined || parseTraceparent(attributes.traceparent)) return attributes;
  return { ...attributes, traceparent };
}

/**
 * SQS message system attributes that continue an event's trace in X-Ray: a Lambda consumer triggered by
 * the queue then joins the producer's trace. Empty when the event carries no valid `traceparent`.
 */
export function sqsTraceAttributes(event: {
  traceparent?: unknown;
}): { AWSTraceHeader: { DataType: "String"; StringValue: string } } | undefined {
  const context = parseTraceparent(event.traceparent);
  return context ? { AWSTraceHeader: { DataType: "String", StringValue: toXRayHeader(context) } } : undefined;
}

/**
 * For a consumer: the trace an event belongs to, as a W3C context and as an X-Ray header, so its own spans
 * (or an OpenTelemetry `propagation.extract`) continue it. `undefined` when the event was not traced.
 */
export function continueTrace(event: {
  traceparent?: unknown;
}): { context: TraceContext; traceparent: string; xrayHeader: string } | undefined {
  const context = parseTraceparent(event.traceparent);
  if (!context) return undefined;
  return { context, traceparent: formatTraceparent(context), xrayHeader: toXRayHeader(context) };
}
