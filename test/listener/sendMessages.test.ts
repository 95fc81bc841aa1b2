import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { SQSClient } from "@aws-sdk/client-sqs";
import pLimit from "p-limit";
import { describe, expect, it } from "vitest";
import { sendMessages } from "../../lib/listener/sendMessages.ts";
import { sqsClientAt, startSqsErrorStandIn } from "../support/sqsErrorStandIn.ts";

/** Sends one message through `sqs` until the first retry; returns the reason that retry gave. */
async function firstRetryReason(sqs: SQSClient, queueUrl: string): Promise<string> {
  const abort = new AbortController();
  let reason = "";
  await sendMessages(
    {
      sqs,
      queueUrl,
      limit: pLimit(1),
      fifo: false,
      signal: abort.signal,
      onRetry: (info) => {
        reason = info.reason;
        abort.abort(new Error("seen"));
      },
    },
    [{ body: "{}" }],
  ).catch(() => {});
  return reason;
}

describe("the reason a failed send gives (logged, and shown as a subscription's lastError)", () => {
  it("is SQS's error code and message when SQS answered", async () => {
    const { endpoint, sqs, close } = await startSqsErrorStandIn({
      status: 403,
      code: "AccessDenied",
      message: "Access to the resource is denied.",
    });
    try {
      expect(await firstRetryReason(sqs, `${endpoint}/000000000000/q`)).toBe(
        "AccessDenied: Access to the resource is denied.",
      );
    } finally {
      close();
    }
  });

  it("is the system's error code, without the address, when SQS could not be reached", async () => {
    // A port nothing listens on: the connection is refused.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await new Promise((resolve) => server.close(resolve));
    const sqs = sqsClientAt(endpoint);
    try {
      expect(await firstRetryReason(sqs, `${endpoint}/000000000000/q`)).toBe(
        "SQS could not be reached (ECONNREFUSED)",
      );
    } finally {
      sqs.destroy();
    }
  });
});
