/**
 * The Powertools tracer (X-Ray) for handlers that do not go through the HTTP runtime's instrumentation:
 * the WebSocket routes and the subscription registration custom resource. On Lambda with tracing on, the
 * handler runs inside its own `## <handler>` subsegment (cold start and errors annotated) and the AWS SDK
 * clients given are traced too (once per execution environment). Elsewhere the handler is returned as it is
 * and the tracer is never imported: the X-Ray SDK's async hook would tax every promise of `npm run dev`
 * and the tests. The broadcaster opts out on Lambda as well (see `functions/realtime/broadcaster.ts`).
 */
import { getRuntime } from "./runtime.ts";

const tracing =
  process.env.AWS_LAMBDA_FUNCTION_NAME && process.env.POWERTOOLS_TRACE_ENABLED !== "false"
    ? await import("../../lib/tracing/lambdaTracer.ts")
    : undefined;
const middy = tracing ? (await import("@middy/core")).default : undefined;

/** Anything `tracer.captureAWSv3Client` accepts: an SDK v3 client (or document client). */
interface AwsClient {
  middlewareStack: unknown;
}

/**
 * Wraps `handler` in the tracer's middleware on Lambda; `clients` (awaited on the first invocation) are
 * the SDK clients whose calls become subsegments.
 *
 * @example
 * export const handler = traced("eventbus-ws", wsRoute(getRuntime, pingFrame, route), async () => {
 *   const { dynamo, sqs } = await getRuntime();
 *   return [dynamo, sqs];
 * });
 */
export function traced<E, R>(
  serviceName: string,
  handler: (event: E) => Promise<R>,
  clients?: () => Promise<AwsClient[]>,
): (event: E, context?: unknown) => Promise<R> {
  if (!tracing || !middy) return handler;
  const tracer = tracing.createTracer({ serviceName, enabled: true });
  let captured: Promise<void> | undefined;
  const capture = () => {
    captured ??= (clients?.() ?? Promise.resolve([])).then(
      (list) => {
        for (const client of list) tracer.captureAWSv3Client(client as never);
      },
      () => {
        captured = undefined; // the runtime failed to build; the handler reports it, the next call retries
      },
    );
    return captured;
  };
  const wrapped = middy<E, R>()
    .use(tracing.traceHandler(tracer))
    .handler(async (event: E) => {
      await capture();
      return handler(event);
    });
  return (event, context) => wrapped(event, (context ?? {}) as never);
}

/** The shared runtime's SDK clients, for {@link traced}. */
export async function runtimeClients(): Promise<AwsClient[]> {
  const { dynamo, sqs } = await getRuntime();
  return [dynamo, sqs];
}
