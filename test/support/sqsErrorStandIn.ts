import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { SQSClient } from "@aws-sdk/client-sqs";

/**
 * A stand-in that answers every SQS call with one error, as SQS's JSON protocol does (`__type`, the
 * `x-amzn-query-error` header), and a real SDK client pointed at it (one attempt, no SDK retries): for the
 * errors the shared stand-in never gives (denied access, a queue name SQS still holds after a deletion).
 */
export async function startSqsErrorStandIn(error: {
  status: number;
  code: string;
  queryCode?: string;
  message: string;
}) {
  const server = createServer((request, response) => {
    request.resume();
    response.writeHead(error.status, {
      "content-type": "application/x-amz-json-1.0",
      "x-amzn-query-error": `${error.queryCode ?? error.code};Sender`,
    });
    response.end(JSON.stringify({ __type: `com.amazonaws.sqs#${error.code}`, message: error.message }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const sqs = sqsClientAt(endpoint);
  return {
    endpoint,
    sqs,
    close() {
      sqs.destroy();
      server.close();
    },
  };
}

/** A real SDK client for `endpoint`, one attempt per call. */
export const sqsClientAt = (endpoint: string) =>
  new SQSClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
  });
