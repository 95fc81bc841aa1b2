/**
 * W3C Trace Context (`traceparent`) and its AWS X-Ray equivalent. The bus carries the producer's trace as
 * the CloudEvents `traceparent` extension attribute (CloudEvents Distributed Tracing extension), so one
 * trace can show append → listener → SQS → consumer. Everything here is pure string work: no SDK, no I/O.
 */

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

/**
 * Reads an X-Ray trace header (`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`,
 * what API Gateway and Lambda pass as `X-Amzn-Trace-Id` / `_X_AMZN_TRACE_ID`). X-Ray's trace id is the W3C
 * one with a dash after its first 8 digits (the epoch seconds), so the two convert without loss.
 */
export function fromXRayHeader(header: unknown): TraceContext | undefined {
  if (typeof header !== "string") return undefined;
  const root = XRAY_ROOT.exec(header);
  const parent = XRAY_PARENT.exec(header);
  if (!root || !parent) return undefined;
  const traceId = `${root[1]}${root[2]}`.toLowerCase();
  const parentId = parent[1]!.toLowerCase();
  if (/^0+$/.test(parentId)) return undefined;
  return { traceId, parentId, sampled: XRAY_SAMPLED.exec(header)?.[1] === "1" };
}

/** The X-Ray trace header of a trace context, e.g. for SQS's `AWSTraceHeader` message system attribute. */
export const toXRayHeader = (context: TraceContext): string =>
  `Root=1-${context.traceId.slice(0, 8)}-${context.traceId.slice(8)};Parent=${context.parentId};Sampled=${
    context.sampled ? 1 : 0
  }`;

/**
 * The `traceparent` an append should stamp on events that carry none: the request's own W3C
 * `traceparent` header when valid, else the X-Ray trace of the request (`x-amzn-trace-id`, set by API
 * Gateway when tracing is on). `undefined` when the request is not traced, which is the local default.
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
 * Adds `traceparent` to an event's attributes unless the producer set a valid one (the producer's trace
 * wins: it started the work). Returns the attributes unchanged when there is nothing to add.
 *
 * @example
 * const traceparent = traceparentForRequest(request.event.headers ?? {});
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
