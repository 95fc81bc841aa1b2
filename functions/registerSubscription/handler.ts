import type { CloudFormationCustomResourceEvent } from "aws-lambda";
import { EventBusError } from "../../lib/errors.ts";
import { createSubscription } from "../../lib/subscriptions/createSubscription.ts";
import { assertSubscriptionName, parseSubscriptionDefinition } from "../../lib/subscriptions/definition.ts";
import { deleteSubscription } from "../../lib/subscriptions/deleteSubscription.ts";
import { getRuntime } from "../shared/runtime.ts";

interface RegistrationProperties {
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
export async function handler(event: CloudFormationCustomResourceEvent) {
  const { sql, sqs, config } = await getRuntime();
  const properties = event.ResourceProperties as unknown as RegistrationProperties;

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
