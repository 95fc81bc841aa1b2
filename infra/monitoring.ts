import { Duration, Stack } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import * as sns from "aws-cdk-lib/aws-sns";
import * as snsSubscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { METRICS_NAMESPACE } from "../functions/metrics/publishSubscriptionMetrics.ts";
import type { EventBus } from "./eventBus.ts";

export interface EventBusMonitoringProps {
  bus: EventBus;
  /** Alarm (and OK) notifications go here; when absent the construct creates a topic (see `alarmTopic`). */
  alarmTopic?: sns.ITopic;
  /** Subscribes this address to the alarm topic the construct creates (ignored with `alarmTopic`). */
  alarmEmail?: string;
  /** Seconds the oldest unforwarded event of a subscription may wait before alarming (default 300). */
  maxSubscriptionLagSeconds?: number;
  /** Bytes of WAL a change-capture replication slot may hold back before alarming (default 1 GiB). */
  maxCaptureSlotLagBytes?: number;
  /** Events a subscription may fall behind the head before alarming (default 1000). */
  maxSubscriptionLag?: number;
  /** Age of the oldest message in a subscription queue before alarming (default 15 minutes). */
  maxSubscriptionMessageAge?: Duration;
}

const minute = Duration.minutes(1);

/**
 * Alarms and a dashboard for the bus. Subscription figures (lag, queue depths, ownership) come from the
 * bus's SubscriptionMetrics function in the `EventBus` namespace, dimensions `Bus` and `Subscription`;
 * Metrics Insights alarms cover every subscription, including those created at run time.
 */
export class EventBusMonitoring extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;
  /** Every alarm (and its return to OK) is published here; subscribe a pager, chat or e-mail to it. */
  readonly alarmTopic: sns.ITopic;

  constructor(scope: Construct, id: string, props: EventBusMonitoringProps) {
    super(scope, id);
    const { bus } = props;
    const apiId = bus.httpApi.apiId;
    // Alarms always exist and always publish somewhere an operator can subscribe to; e-mail is optional.
    if (props.alarmTopic) {
      this.alarmTopic = props.alarmTopic;
    } else {
      const topic = new sns.Topic(this, "AlarmTopic", {
        displayName: `${Stack.of(this).stackName} event bus alarms`,
        enforceSSL: true,
      });
      if (props.alarmEmail) topic.addSubscription(new snsSubscriptions.EmailSubscription(props.alarmEmail));
      this.alarmTopic = topic;
    }

    // The SubscriptionMetrics function also counts the realtime connections (RealtimeConnections).
    bus.realtimeTable.grantReadData(bus.functions.metrics);

    // Published every minute for every subscription, declared or created at run time, by the
    // SubscriptionMetrics function; Metrics Insights lets one alarm watch all of them.
    const insights = (statistic: string, metric: string, label: string) =>
      new cloudwatch.MathExpression({
        expression: `SELECT ${statistic}(${metric}) FROM SCHEMA("${METRICS_NAMESPACE}", Bus, Subscription) WHERE Bus = '${bus.name}'`,
        label,
        period: minute,
      });
    const subscriptionLag = insights("MAX", "SubscriptionLag", "Largest subscription lag (events)");
    this.alarm("SubscriptionLag", subscriptionLag, {
      threshold: props.maxSubscriptionLag ?? 1000,
      evaluationPeriods: 5,
      description:
        "A subscription is falling behind the event store's head: is the listener running and healthy?",
    });
    const subscriptionLagSeconds = insights(
      "MAX",
      "SubscriptionLagSeconds",
      "Oldest unforwarded event of any subscription (s)",
    );
    this.alarm("SubscriptionLagSeconds", subscriptionLagSeconds, {
      threshold: props.maxSubscriptionLagSeconds ?? 300,
      evaluationPeriods: 5,
      description:
        "A subscription's oldest unforwarded event is older than the threshold: the listener is stuck, paused by back-pressure, or down.",
    });
    const deadLetters = insights("MAX", "SubscriptionDeadLetters", "Most dead letters of a subscription");
    this.alarm("SubscriptionDeadLetters", deadLetters, {
      threshold: 1,
      evaluationPeriods: 1,
      description:
        "Messages reached a subscription's DLQ: inspect them, then POST /subscriptions/{name}/redrive.",
    });
    const parked = insights("MAX", "SubscriptionParked", "Most parked events of a subscription");
    this.alarm("SubscriptionParked", parked, {
      threshold: 1,
      evaluationPeriods: 1,
      description:
        "SQS refused events of a subscription for good; they are parked (GET /subscriptions/{name} shows the reason): fix the cause, then POST /subscriptions/{name}/redrive.",
    });
    const failing = insights("MAX", "SubscriptionFailing", "Subscriptions whose sends SQS refuses (max)");
    this.alarm("SubscriptionFailing", failing, {
      threshold: 1,
      evaluationPeriods: 2,
      description:
        "SQS refuses or cannot take a subscription's sends (its queue was deleted, access was denied, the endpoint is out of reach): GET /subscriptions/{name} shows SQS's reason in lastError. The listener retries until they succeed.",
    });
    const realtimeFailing = new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: "RealtimeFailing",
      dimensionsMap: { Bus: bus.name },
      statistic: "Maximum",
      period: minute,
    });
    this.alarm("RealtimeFailing", realtimeFailing, {
      threshold: 1,
      evaluationPeriods: 2,
      description:
        "SQS refuses or cannot take the listener's sends to the realtime fan-out queue: WebSocket clients get no events. The listener's log shows SQS's reason ('SQS did not accept every message, retrying', target $realtime); it retries until they succeed.",
    });
    const owned = insights("MIN", "SubscriptionOwned", "Subscriptions held by a listener (min)");
    this.alarm("SubscriptionUnowned", owned, {
      threshold: 1,
      comparison: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 3,
      description: "A subscription has had no listener forwarding it for 3 minutes.",
    });
    this.alarm("SubscriptionMetricsErrors", bus.functions.metrics.metricErrors({ period: minute }), {
      threshold: 1,
      evaluationPeriods: 5,
      datapoints: 3,
      description: "Subscription metrics are not being published; the subscription alarms are blind.",
    });

    const runningListeners = new cloudwatch.Metric({
      namespace: "ECS/ContainerInsights",
      metricName: "RunningTaskCount",
      dimensionsMap: {
        ClusterName: bus.listener.cluster.clusterName,
        ServiceName: bus.listener.serviceName,
      },
      statistic: "Minimum",
      period: minute,
    });
    this.alarm("ListenerDown", runningListeners, {
      threshold: 1,
      comparison: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 3,
      missing: cloudwatch.TreatMissingData.BREACHING,
      description: "No listener task is running: no subscription or realtime client receives events.",
    });

    const http5xx = new cloudwatch.Metric({
      namespace: "AWS/ApiGateway",
      metricName: "5xx",
      dimensionsMap: { ApiId: apiId },
      statistic: "Sum",
      period: minute,
    });
    this.alarm("Http5xx", http5xx, {
      threshold: 5,
      evaluationPeriods: 5,
      datapoints: 2,
      description: "The HTTP API answers with server errors.",
    });
    const wsErrors = new cloudwatch.MathExpression({
      expression: "integration + execution",
      usingMetrics: {
        integration: this.webSocketMetric(bus, "IntegrationError"),
        execution: this.webSocketMetric(bus, "ExecutionError"),
      },
      label: "WebSocket integration + execution errors",
      period: minute,
    });
    this.alarm("WebSocketErrors", wsErrors, {
      threshold: 5,
      evaluationPeriods: 5,
      datapoints: 2,
      description: "WebSocket route handlers fail.",
    });

    this.alarm(
      "RealtimeDeadLetters",
      bus.realtimeDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: minute }),
      { threshold: 1, evaluationPeriods: 1, description: "Realtime fan-out messages failed repeatedly." },
    );
    this.oldestMessageAlarm("Realtime", bus.realtimeQueue, Duration.minutes(1));
    // Message age comes from SQS's own metrics, by queue name: known here only for declared subscriptions.
    for (const subscription of bus.subscriptions) {
      this.oldestMessageAlarm(
        `Subscription-${subscription.name}`,
        subscription.queue,
        props.maxSubscriptionMessageAge ?? Duration.minutes(15),
      );
    }
    this.alarm("BroadcasterErrors", bus.functions.broadcaster.metricErrors({ period: minute }), {
      threshold: 1,
      evaluationPeriods: 5,
      datapoints: 2,
      description: "The broadcaster fails; realtime clients miss events.",
    });

    // Published by the broadcaster through the metrics registry (EMF); absent data is a quiet fan-out.
    const fanoutFailedPosts = new cloudwatch.MathExpression({
      expression: `SELECT SUM(FanoutFailedPosts) FROM "${METRICS_NAMESPACE}" WHERE Bus = '${bus.name}'`,
      label: "Realtime posts that failed",
      period: minute,
    });
    this.alarm("FanoutFailedPosts", fanoutFailedPosts, {
      threshold: 10,
      evaluationPeriods: 5,
      datapoints: 3,
      description: "Realtime posts to WebSocket clients fail (other than 410 Gone): clients miss events.",
    });
    // Published by the SubscriptionMetrics function from pg_replication_slots, one series per slot.
    const captureSlotLag = new cloudwatch.MathExpression({
      expression: `SELECT MAX(CaptureSlotLagBytes) FROM SCHEMA("${METRICS_NAMESPACE}", Bus, Slot) WHERE Bus = '${bus.name}'`,
      label: "Largest replication slot lag (bytes)",
      period: minute,
    });
    this.alarm("CaptureSlotLag", captureSlotLag, {
      threshold: props.maxCaptureSlotLagBytes ?? 1024 ** 3,
      evaluationPeriods: 5,
      description:
        "A change-capture replication slot holds back WAL: Postgres keeps it on disk until the capture catches up (or the slot is dropped).",
    });

    const action = new SnsAction(this.alarmTopic);
    for (const alarm of this.alarms) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }

    this.dashboard = new cloudwatch.Dashboard(this, "Dashboard", {
      dashboardName: `${Stack.of(this).stackName}-eventbus`,
      defaultInterval: Duration.hours(3),
    });
    const httpMetric = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: "AWS/ApiGateway",
        metricName,
        dimensionsMap: { ApiId: apiId },
        statistic,
        period: minute,
      });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "HTTP API requests and errors",
        left: [httpMetric("Count", "Sum"), httpMetric("4xx", "Sum"), http5xx],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: "HTTP API latency (p50, p99)",
        left: [httpMetric("Latency", "p50"), httpMetric("Latency", "p99")],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: "WebSocket",
        left: [
          this.webSocketMetric(bus, "ConnectCount"),
          this.webSocketMetric(bus, "MessageCount"),
          this.webSocketMetric(bus, "IntegrationError"),
          this.webSocketMetric(bus, "ExecutionError"),
        ],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Subscriptions: lag, dead letters, parked",
        left: [subscriptionLag],
        right: [deadLetters, parked],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: "Listener",
        left: [runningListeners],
        right: [bus.listener.metricCpuUtilization({ period: minute })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: "Realtime fan-out queue",
        left: [
          bus.realtimeQueue.metricApproximateNumberOfMessagesVisible({ period: minute }),
          bus.realtimeDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: minute }),
        ],
        right: [bus.realtimeQueue.metricApproximateAgeOfOldestMessage({ period: minute })],
        width: 8,
      }),
    );
    const functions = [
      ...bus.functions.http.values(),
      ...bus.functions.ws.values(),
      bus.functions.broadcaster,
    ];
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Lambda errors",
        left: functions.map((fn) => fn.metricErrors({ period: minute, label: fn.node.id })),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: "Lambda duration (p99)",
        left: functions.map((fn) =>
          fn.metricDuration({ period: minute, statistic: "p99", label: fn.node.id }),
        ),
        width: 12,
      }),
    );
    const appendFunction = bus.functions.http.get("AppendEvents");
    const busMetric = (statistic: string, metric: string, label: string) =>
      new cloudwatch.MathExpression({
        expression: `SELECT ${statistic}(${metric}) FROM "${METRICS_NAMESPACE}" WHERE Bus = '${bus.name}'`,
        label,
        period: minute,
      });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Appends per minute and append latency (ms)",
        // The append function's invocations and duration need nothing published by the bus itself.
        left: [
          busMetric("SUM", "Appends", "Appends"),
          ...(appendFunction
            ? [appendFunction.metricInvocations({ period: minute, label: "Append requests" })]
            : []),
        ],
        right: [
          busMetric("AVG", "AppendLatency", "Append latency (avg ms)"),
          ...(appendFunction
            ? [
                appendFunction.metricDuration({
                  period: minute,
                  statistic: "p99",
                  label: "Append function p99",
                }),
              ]
            : []),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: "Realtime: fan-out latency (ms), failed posts, connections",
        left: [busMetric("AVG", "FanoutLatency", "Fan-out latency (avg ms)"), fanoutFailedPosts],
        right: [busMetric("MAX", "RealtimeConnections", "Connections")],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: "Delivery lag (s), parked and redriven, capture slot lag",
        left: [subscriptionLagSeconds],
        right: [
          busMetric("SUM", "ParkedEvents", "Parked"),
          busMetric("SUM", "RedrivenEvents", "Redriven"),
          captureSlotLag,
        ],
        width: 8,
      }),
    );
    // One line per subscription, those created at run time included: a SEARCH expression finds every
    // series the SubscriptionMetrics function publishes (dashboards only; alarms use Metrics Insights).
    const perSubscription = (metric: string, label: string) =>
      new cloudwatch.MathExpression({
        expression: `SEARCH('{${METRICS_NAMESPACE},Bus,Subscription} MetricName="${metric}" Bus="${bus.name}"', 'Maximum', 60)`,
        label,
        period: minute,
      });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Lag per subscription (events)",
        left: [perSubscription("SubscriptionLag", "")],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: "Lag per subscription (age of the oldest unforwarded event, s)",
        left: [perSubscription("SubscriptionLagSeconds", "")],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Subscriptions: queue depth (all)",
        left: [insights("MAX", "SubscriptionQueueDepth", "Deepest subscription queue")],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: "Subscriptions: dead letters (all)",
        left: [deadLetters],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: "Subscriptions held by a listener (min, 1 = all)",
        left: [owned],
        width: 8,
      }),
    );
  }

  private webSocketMetric(bus: EventBus, metricName: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: "AWS/ApiGateway",
      metricName,
      dimensionsMap: { ApiId: bus.webSocketApi.apiId, Stage: bus.webSocketStage.stageName },
      statistic: "Sum",
      period: minute,
    });
  }

  private oldestMessageAlarm(id: string, queue: IQueue, maxAge: Duration): void {
    this.alarm(`${id}OldestMessage`, queue.metricApproximateAgeOfOldestMessage({ period: minute }), {
      threshold: maxAge.toSeconds(),
      evaluationPeriods: 5,
      datapoints: 3,
      description: `Messages wait in ${id}'s queue: its consumer is slow, failing or absent.`,
    });
  }

  private alarm(
    id: string,
    metric: cloudwatch.IMetric,
    options: {
      threshold: number;
      evaluationPeriods: number;
      datapoints?: number;
      comparison?: cloudwatch.ComparisonOperator;
      missing?: cloudwatch.TreatMissingData;
      description: string;
    },
  ): void {
    this.alarms.push(
      new cloudwatch.Alarm(this, id, {
        metric,
        threshold: options.threshold,
        evaluationPeriods: options.evaluationPeriods,
        datapointsToAlarm: options.datapoints ?? options.evaluationPeriods,
        comparisonOperator:
          options.comparison ?? cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: options.missing ?? cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: options.description,
      }),
    );
  }
}
