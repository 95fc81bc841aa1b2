import { CustomResource, Duration, Stack } from "aws-cdk-lib";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import type { Function as LambdaFunction } from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type * as cr from "aws-cdk-lib/custom-resources";
import { Construct } from "constructs";
import type { z } from "zod";
import {
  assertSubscriptionName,
  type definitionSchema,
  parseSubscriptionDefinition,
  queueNames,
  type SubscriptionDefinition,
} from "../lib/subscriptions/definition.ts";
import { createEventBusFunction } from "./eventBusFunction.ts";

/**
 * The body of `PUT /subscriptions/{name}`: the same shape, the same defaults, the same validation (the type
 * is the API's own schema's input type, so a new field of the API is a new prop here too).
 */
export type SubscriptionDefinitionInput = z.input<typeof definitionSchema>;

/** A Lambda function that consumes the subscription's queue. */
export interface SubscriptionConsumer {
  /**
   * The module exporting `handler` (an SQS handler, e.g. from `createConsumer` of `serverless-eventbus/consumer`),
   * bundled with esbuild at synth: absolute, or relative to the CDK app's directory (the repository root
   * when synthesised from this repository).
   */
  entry: string;
  /** Messages per invocation (default 10). Failed items are retried alone (partial batch responses). */
  batchSize?: number;
  /** Must not exceed the subscription's `visibilityTimeout`. Default: the visibility timeout, at most 30 s. */
  timeout?: Duration;
  /** Caps concurrent invocations (2-1000), e.g. to protect a downstream system. */
  maxConcurrency?: number;
  environment?: Record<string, string>;
  /** Run the consumer in the bus's VPC (for consumers that reach private resources). */
  inVpc?: boolean;
}

export interface EventBusSubscriptionProps {
  definition?: SubscriptionDefinitionInput;
  consumer?: SubscriptionConsumer;
  /** Keep the subscription, its queues and messages when it is removed from the app. Default false. */
  retainOnDelete?: boolean;
}

interface InternalProps extends EventBusSubscriptionProps {
  name: string;
  queuePrefix: string;
  registrationProvider: cr.Provider;
  vpc: ec2.IVpc;
}

/**
 * A persistent subscription declared in CDK. Its registration runs the same code as
 * `PUT /subscriptions/{name}` (`createSubscription` from `lib/subscriptions`), which creates the queue and
 * DLQ, so a subscription declared here and one created through the API are indistinguishable. The queues
 * are therefore referenced by name here rather than owned by CloudFormation.
 */
export class EventBusSubscription extends Construct {
  readonly name: string;
  readonly definition: SubscriptionDefinition;
  readonly queue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  readonly registration: CustomResource;
  readonly consumer?: LambdaFunction;

  constructor(scope: Construct, id: string, props: InternalProps) {
    super(scope, id);
    // Validated at synth, so a bad definition fails `cdk synth` instead of a deployment half-way through.
    this.name = assertSubscriptionName(props.name, props.queuePrefix);
    this.definition = parseSubscriptionDefinition(props.definition ?? {});
    const names = queueNames(props.queuePrefix, this.name, this.definition.ordering);
    const stack = Stack.of(this);
    const queueArn = (queueName: string) => stack.formatArn({ service: "sqs", resource: queueName });
    this.queue = sqs.Queue.fromQueueAttributes(this, "Queue", {
      queueArn: queueArn(names.queue),
      fifo: this.definition.ordering === "stream",
    });
    this.deadLetterQueue = sqs.Queue.fromQueueAttributes(this, "DeadLetterQueue", {
      queueArn: queueArn(names.dlq),
      fifo: this.definition.ordering === "stream",
    });

    this.registration = new CustomResource(this, "Registration", {
      serviceToken: props.registrationProvider.serviceToken,
      resourceType: "Custom::EventBusSubscription",
      properties: {
        Name: this.name,
        // CloudFormation turns numbers into strings; JSON keeps the definition's types intact.
        Definition: JSON.stringify(this.definition),
        RetainOnDelete: String(props.retainOnDelete ?? false),
      },
    });

    if (props.consumer) this.consumer = this.createConsumer(props.consumer, props.vpc);
  }

  private createConsumer(consumer: SubscriptionConsumer, vpc: ec2.IVpc): LambdaFunction {
    const visibility = this.definition.visibilityTimeout;
    const timeout = consumer.timeout ?? Duration.seconds(Math.min(visibility, 30));
    // Lambda refuses an SQS event source whose visibility timeout is shorter than the function's timeout.
    if (timeout.toSeconds() < 1 || timeout.toSeconds() > visibility) {
      throw new Error(
        `Subscription '${this.name}': the consumer's timeout (${timeout.toSeconds()} s) must be between 1 s and the visibilityTimeout (${visibility} s).`,
      );
    }
    const fn = createEventBusFunction(this, "Consumer", {
      entry: consumer.entry,
      description: `Consumer of subscription ${this.name}`,
      timeout,
      environment: consumer.environment,
      ...(consumer.inVpc ? { vpc } : {}),
    });
    fn.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: consumer.batchSize ?? 10,
        reportBatchItemFailures: true,
        ...(consumer.maxConcurrency ? { maxConcurrency: consumer.maxConcurrency } : {}),
      }),
    );
    // The queue only exists once the registration has created it.
    fn.node.addDependency(this.registration);
    return fn;
  }
}
