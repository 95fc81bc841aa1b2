import type { CloudFormationCustomResourceEvent } from "aws-lambda";
import { assertCaptureName } from "../../lib/capture/captureNames.ts";
import { deleteCapture } from "../../lib/capture/deleteCapture.ts";
import { parseCaptureRequest, putCapture } from "../../lib/capture/putCapture.ts";
import { EventBusError } from "../../lib/errors.ts";
import { createSubscription } from "../../lib/subscriptions/createSubscription.ts";
import { assertSubscriptionName, parseSubscriptionDefinition } from "../../lib/subscriptions/definition.ts";
import { deleteSubscription } from "../../lib/subscriptions/deleteSubscription.ts";
import { getRuntime } from "../shared/runtime.ts";
import { runtimeClients, traced } from "../shared/traced.ts";

interface RegistrationProperties {
  /** `capture` for a capture declared in CDK; absent for a subscription. */
  Kind?: "capture";
  Name: string;
  /** JSON of the body `PUT /subscriptions/{name}` takes. */
  Definition: string;
  RetainOnDelete?: string;
}

/**
 * CloudFormation custom resource for a subscription declared in CDK. It runs exactly what
 * `PUT /subscriptions/{name}` runs, so the queue, DLQ and checkpoint are created the same way. Definitions
 * are immutable, as in the API: changing one fails the deployment with `SUBSCRIPTION_CONFLICT` (rename the
 * subscription, or remove it in one deployment and add it back in the next). Renaming creates the new
 * subscription, then CloudFormation deletes the old one.
 */
/** What CloudFormation gets back: the physical id and, for `Fn::GetAtt`, the resource's attributes. */
interface RegistrationResult {
  PhysicalResourceId: string;
  Data?: Record<string, string>;
}

async function register(event: CloudFormationCustomResourceEvent): Promise<RegistrationResult> {
  const { sql, sqs, config } = await getRuntime();
  const properties = event.ResourceProperties as unknown as RegistrationProperties;
  if (properties.Kind === "capture") return registerCapture(event, properties);

  if (event.RequestType === "Delete") {
    if (properties.RetainOnDelete !== "true") {
      try {
        await deleteSubscription(sql, sqs, event.PhysicalResourceId);
      } catch (error) {
        // A Create that failed leaves a resource that never registered anything; deleting it is a no-op.
        if (!(error instanceof EventBusError && error.code === "SUBSCRIPTION_NOT_FOUND")) throw error;
      }
    }
    return { PhysicalResourceId: event.PhysicalResourceId };
  }

  const name = assertSubscriptionName(properties.Name, config.EVENTBUS_QUEUE_PREFIX);
  const definition = parseSubscriptionDefinition(JSON.parse(properties.Definition));
  try {
    const { subscription, created } = await createSubscription(sql, sqs, {
      name,
      definition,
      queuePrefix: config.EVENTBUS_QUEUE_PREFIX,
    });
    console.log(
      JSON.stringify({ message: created ? "subscription created" : "subscription unchanged", name }),
    );
    return {
      PhysicalResourceId: name,
      Data: { QueueUrl: subscription.queueUrl, DeadLetterQueueUrl: subscription.dlqUrl },
    };
  } catch (error) {
    if (error instanceof EventBusError) throw new Error(`${error.code}: ${error.message}`);
    throw error;
  }
}

/**
 * A capture declared in CDK runs what `PUT /captures/{name}` and `DELETE /captures/{name}` run. The table
 * must exist when the stack deploys (create it with your own migrations first), else the deployment fails
 * with the reason (`CAPTURE_NOT_POSSIBLE: ...`).
 */
async function registerCapture(
  event: CloudFormationCustomResourceEvent,
  properties: RegistrationProperties,
): Promise<RegistrationResult> {
  const { sql } = await getRuntime();
  if (event.RequestType === "Delete") {
    if (properties.RetainOnDelete !== "true") {
      try {
        await deleteCapture(sql, event.PhysicalResourceId);
      } catch (error) {
        if (!(error instanceof EventBusError && error.code === "CAPTURE_NOT_FOUND")) throw error;
      }
    }
    return { PhysicalResourceId: event.PhysicalResourceId };
  }
  const name = assertCaptureName(properties.Name);
  try {
    const { created, capture } = await putCapture(
      sql,
      name,
      parseCaptureRequest(JSON.parse(properties.Definition)),
    );
    console.log(JSON.stringify({ message: created ? "capture created" : "capture unchanged", name }));
    return { PhysicalResourceId: name, Data: { Slot: capture.slot } };
  } catch (error) {
    if (error instanceof EventBusError) throw new Error(`${error.code}: ${error.message}`);
    throw error;
  }
}

/** Traced on Lambda (X-Ray): a deployment's registrations show up beside the bus's other work. */
export const handler = traced("eventbus-registration", register, runtimeClients);
