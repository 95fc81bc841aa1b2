import { Stack, type StackProps } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import type { Construct } from "constructs";
import { EventBus, type EventBusProps } from "./eventBus.ts";
import { EventBusMonitoring } from "./monitoring.ts";
import { suppressExplainedFindings } from "./nagSuppressions.ts";
import type { EventBusSubscriptionProps } from "./subscription.ts";

export interface EventBusStackProps extends StackProps {
  bus: EventBusProps;
  /** Subscriptions declared with the stack (each also creatable at run time through the API). */
  subscriptions?: Record<string, EventBusSubscriptionProps>;
  /** Where alarm notifications are e-mailed (a confirmation mail is sent on first deploy). */
  alarmEmail?: string;
  /**
   * Use an existing PostgreSQL instead of Aurora, by ARNs and ids (handy from CDK context). In code you can
   * pass `bus.existingDatabase` with constructs instead. The database must be reachable from the bus's VPC.
   */
  existingDatabase?: { secretArn: string; pooledHost?: string; clientSecurityGroupId?: string };
}

/**
 * The deployable bus: the {@link EventBus} construct, its declared subscriptions, alarms and a dashboard.
 * Environment-agnostic (no lookups), so `cdk synth` needs neither credentials nor network.
 */
export class EventBusStack extends Stack {
  readonly bus: EventBus;
  readonly monitoring: EventBusMonitoring;

  constructor(scope: Construct, id: string, props: EventBusStackProps) {
    super(scope, id, props);
    const existing = props.existingDatabase;
    this.bus = new EventBus(this, "Bus", {
      ...props.bus,
      ...(existing
        ? {
            existingDatabase: {
              secret: secretsmanager.Secret.fromSecretCompleteArn(this, "DatabaseSecret", existing.secretArn),
              pooledHost: existing.pooledHost,
              ...(existing.clientSecurityGroupId
                ? {
                    clientSecurityGroup: ec2.SecurityGroup.fromSecurityGroupId(
                      this,
                      "DatabaseClients",
                      existing.clientSecurityGroupId,
                    ),
                  }
                : {}),
            },
          }
        : {}),
    });
    for (const [name, subscription] of Object.entries(props.subscriptions ?? {})) {
      this.bus.addSubscription(name, subscription);
    }
    let alarmTopic: sns.Topic | undefined;
    if (props.alarmEmail) {
      alarmTopic = new sns.Topic(this, "Alarms", { enforceSSL: true });
      alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    }
    this.monitoring = new EventBusMonitoring(this, "Monitoring", { bus: this.bus, alarmTopic });
    suppressExplainedFindings(this);
  }
}
