import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSqsPoller } from "../../lib/local/sqsPoller.ts";
import { startHttpFaultProxy, startResetProxy } from "./faultProxies.ts";
import { type RealtimeHarness, startRealtimeHarness } from "./support.ts";

/** Connection ids whose posts the `@connections` proxy fails, and how. */
const faults = new Map<string, (body: string) => number | undefined>();
let resetting = false;
let dynamoProxy: Awaited<ReturnType<typeof startResetProxy>>;
let managementProxy: Awaited<ReturnType<typeof startHttpFaultProxy>>;
let h: RealtimeHarness;

beforeAll(async () => {
  h = await startRealtimeHarness({
    dynamoEndpoint: async (endpoint) => {
      dynamoProxy = await startResetProxy(endpoint, () => resetting);
      return dynamoProxy.endpoint;
    },
    managementEndpoint: async (endpoint) => {
      managementProxy = await startHttpFaultProxy(endpoint, (method, connectionId, body) =>
        method === "POST" ? faults.get(connectionId)?.(body) : undefined,
      );
      return managementProxy.endpoint;
    },
  });
});
afterAll(async () => {
  await h?.close();
  await dynamoProxy?.stop();
  await managementProxy?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("transient DynamoDB failures", () => {
  it("acknowledges a subscribe made while DynamoDB connections are being reset", async () => {
    const client = await h.connect();
    await client.request({ action: "ping" });
    // Longer than the SDK's own three attempts last.
    resetting = true;
    dynamoProxy.resetEstablished();
    setTimeout(() => {
      resetting = false;
    }, 1200);
    expect(await client.request({ action: "subscribe", topic: "room:reset" }, 10_000)).toMatchObject({
      type: "ack",
    });
    await h.api.request("POST", "/topics/room:reset/messages", { body: { data: "through" } });
    expect((await client.next((f) => f.type === "message")).data).toBe("through");
  });
});

describe("poison posts in the fan-out", () => {
  it("drops a frame a connection refuses for good, for that connection only, and goes on", async () => {
    const [picky, flaky, plain] = await Promise.all([h.connect(), h.connect(), h.connect()]);
    const ids: string[] = [];
    for (const client of [picky, flaky, plain]) {
      await client.request({ action: "subscribe", topic: "room:poison" });
      ids.push((await client.request({ action: "ping" })).connectionId);
    }
    // A permanent 400 for one message on one connection; three 500s in a row on another.
    faults.set(ids[0]!, (body) => (body.includes('"data":"poison"') ? 400 : undefined));
    let failures = 3;
    faults.set(ids[1]!, () => (failures-- > 0 ? 500 : undefined));

    for (const data of ["poison", "after"]) {
      expect(await h.api.request("POST", "/topics/room:poison/messages", { body: { data } })).toMatchObject({
        status: 202,
      });
    }
    expect((await plain.next((f) => f.type === "message")).data).toBe("poison");
    expect((await plain.next((f) => f.type === "message")).data).toBe("after");
    expect((await flaky.next((f) => f.type === "message", 10_000)).data).toBe("poison");
    expect((await flaky.next((f) => f.type === "message", 10_000)).data).toBe("after");
    expect((await picky.next((f) => f.type === "message")).data).toBe("after");
    expect(picky.frames.filter((f) => f.type === "message")).toEqual([]);
    faults.clear();
  });

  it("parks a fan-out message that keeps failing in the queue's DLQ, and the queue moves on", async () => {
    const [stuck, fine] = await Promise.all([h.connect(), h.connect()]);
    const stuckId = (await stuck.request({ action: "ping" })).connectionId as string;
    const fineId = (await fine.request({ action: "ping" })).connectionId as string;
    faults.set(stuckId, () => 503);

    const dlqUrl = (await h.sqs.send(new CreateQueueCommand({ QueueName: `${h.tableName}-dlq` }))).QueueUrl!;
    const { Attributes } = await h.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ["QueueArn"] }),
    );
    const queueUrl = (
      await h.sqs.send(
        new CreateQueueCommand({
          QueueName: `${h.tableName}-fanout`,
          Attributes: {
            VisibilityTimeout: "1",
            RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes!.QueueArn, maxReceiveCount: 2 }),
          },
        }),
      )
    ).QueueUrl!;
    const { handler } = await import("../../functions/realtime/broadcaster.ts");
    const poller = startSqsPoller({ sqs: h.sqs, queueUrl, handler, waitTimeSeconds: 1 });
    try {
      const deliver = (connectionId: string, data: string) =>
        h.sqs.send(
          new SendMessageCommand({
            QueueUrl: queueUrl,
            MessageBody: JSON.stringify({
              kind: "deliver",
              deliveries: [
                { frames: [{ type: "message", data, sender: null }], connectionIds: [connectionId] },
              ],
            }),
          }),
        );
      await deliver(stuckId, "never");
      await deliver(fineId, "meanwhile");
      expect((await fine.next((f) => f.type === "message", 10_000)).data).toBe("meanwhile");
      let parked: string | undefined;
      for (let i = 0; i < 30 && !parked; i++) {
        const { Messages } = await h.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 1 }),
        );
        parked = Messages?.[0]?.Body;
      }
      expect(JSON.parse(parked!)).toMatchObject({
        kind: "deliver",
        deliveries: [{ connectionIds: [stuckId] }],
      });
      await sleep(100);
      expect(stuck.frames.filter((f) => f.type === "message")).toEqual([]);
    } finally {
      faults.clear();
      await poller.stop();
    }
  });
});
