import { createHash } from "node:crypto";
import { Aws, CfnOutput, CustomResource, Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as apigwv2 from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration, WebSocketLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import { Platform } from "aws-cdk-lib/aws-ecr-assets";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import type { IFunction, Function as LambdaFunction } from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as logs from "aws-cdk-lib/aws-logs";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { IgnoreMode } from "aws-cdk-lib/core";
import * as cr from "aws-cdk-lib/custom-resources";
import { Construct } from "constructs";
import { httpRoutes as defaultHttpRoutes } from "../functions/http/routes.ts";
import { wsRoutes as defaultWsRoutes } from "../functions/ws/routes.ts";
import { migrations } from "../lib/db/migrations/index.ts";
import { EventBusDatabase, type ExistingDatabase } from "./database.ts";
import { createEventBusFunction } from "./eventBusFunction.ts";
import { stageListenerWithOperators } from "./listenerImage.ts";
import { fromSources, listenerBundleDir, repoRoot } from "./paths.ts";
import { type Capability, httpRouteCapabilities, wsRouteCapabilities } from "./routeGrants.ts";
import { EventBusSubscription, type EventBusSubscriptionProps } from "./subscription.ts";

/** One entry of a route manifest (`functions/http/routes.ts`, `functions/ws/routes.ts`). */
export interface RouteDefinition {
  routeKey: string;
  /** Handler module relative to the repository root. */
  entry: string;
  /** Unique, used in construct ids. */
  name: string;
}

/** A captured table (the body of `PUT /captures/{name}`). */
export interface EventBusCaptureProps {
  /** `schema.table`, e.g. `public.orders`. */
  table: string;
  /** Set `REPLICA IDENTITY FULL` so that updates and deletes carry the whole old row. */
  replicaIdentityFull?: boolean;
  /** Keep capturing when the capture is removed from the app. Default false. */
  retainOnDelete?: boolean;
}

export interface EventBusProps {
  /** HTTP API routes. Default: every route of the bus (`functions/http/routes.ts`). */
  httpRoutes?: readonly RouteDefinition[];
  /** WebSocket API routes. Default: every route of the bus (`functions/ws/routes.ts`). */
  wsRoutes?: readonly RouteDefinition[];
  /**
   * Persistent subscriptions declared with the bus, by name (the same as calling
   * {@link EventBus.addSubscription} for each), optionally with a consumer function.
   */
  subscriptions?: Record<string, EventBusSubscriptionProps>;
  /**
   * Change capture declared with the bus, by capture name (the same as `PUT /captures/{name}`): e.g.
   * `{ orders: { table: "public.orders", replicaIdentityFull: true } }`. The tables must exist when the stack
   * deploys. The cluster runs with `rds.logical_replication = 1` for them.
   */
  captures?: Record<string, EventBusCaptureProps>;
  /**
   * Operators run by the listener (see `GET /operators`): a module, absolute or relative to the CDK app's
   * directory, whose default export is an array of `defineOperator(...)`. It is bundled with what it
   * imports (esbuild, at synth) into the listener's image, which then loads it.
   */
  operators?: { entry: string };
  /** The broadcaster handler (drains the realtime fan-out queue). */
  broadcasterEntry?: string;
  /** The migrations custom resource handler. */
  migrateEntry?: string;
  /** The scheduled subscription metrics handler. */
  metricsEntry?: string;
  /** The bus's name in its metrics (dimension `Bus`). Default: the stack name. */
  name?: string;
  /** The subscription registration custom resource handler. */
  registerSubscriptionEntry?: string;
  /**
   * The listener's Dockerfile, relative to the repository root (the build context). Only used from the
   * repository's sources; the installed package builds the image from its pre-bundled dist/listener/.
   */
  listenerDockerfile?: string;
  /** An existing VPC. Default: a new one over two AZs with `natGateways` NAT gateways. */
  vpc?: ec2.IVpc;
  /** NAT gateways of the new VPC (default 1; 2 removes the single-AZ egress dependency). */
  natGateways?: number;
  /** Use an existing PostgreSQL database instead of creating Aurora Serverless v2. */
  existingDatabase?: ExistingDatabase;
  /** Aurora Serverless v2 capacity (ACUs); defaults 0.5..4. */
  databaseMinCapacity?: number;
  databaseMaxCapacity?: number;
  /** Verify tokens with an OIDC issuer instead of the generated HS256 secret. */
  oidc?: { issuer: string; audience?: string };
  /** Prefix of the subscription queues (IAM is scoped to it). Default `eventbus-`. */
  queuePrefix?: string;
  /** CloudEvents `source` of events leaving the bus. */
  source?: string;
  /** Listener replicas (default 2: one forwards, the other takes over subscriptions when it dies). */
  listenerDesiredCount?: number;
  /** Origins allowed to call the HTTP API from a browser. Default: none (no CORS). */
  corsAllowOrigins?: string[];
  /** What happens to the database and the realtime table on `cdk destroy`. Default: SNAPSHOT / RETAIN. */
  removalPolicy?: RemovalPolicy;
  /** Aurora deletion protection. Default: on, unless `removalPolicy` is DESTROY. */
  deletionProtection?: boolean;
}

/** Where each Lambda function of the bus stands, for alarms and dashboards. */
export interface EventBusFunctions {
  http: Map<string, LambdaFunction>;
  ws: Map<string, LambdaFunction>;
  broadcaster: LambdaFunction;
  /** Publishes every subscription's lag, queue depths and ownership each minute. */
  metrics: LambdaFunction;
}

/**
 * The whole event bus: Postgres (Aurora Serverless v2 + RDS Proxy, or an existing database), migrations on
 * deploy, the HTTP and WebSocket APIs (one function per route), the realtime fan-out queue and broadcaster,
 * the listener on ECS Fargate, and subscriptions declared with {@link EventBus.addSubscription}.
 */
export class EventBus extends Construct {
  readonly vpc: ec2.IVpc;
  readonly database: EventBusDatabase;
  readonly httpApi: apigwv2.HttpApi;
  readonly webSocketApi: apigwv2.WebSocketApi;
  readonly webSocketStage: apigwv2.WebSocketStage;
  readonly realtimeTable: dynamodb.Table;
  readonly realtimeQueue: sqs.Queue;
  readonly realtimeDeadLetterQueue: sqs.Queue;
  readonly jwtSecret?: secretsmanager.Secret;
  readonly listener: ecs.FargateService;
  readonly listenerLogGroup: logs.LogGroup;
  readonly functions: EventBusFunctions;
  readonly queuePrefix: string;
  /** The bus's name in its metrics (dimension `Bus`). */
  readonly name: string;
  readonly subscriptions: EventBusSubscription[] = [];
  /** Resolves once every migration has been applied; subscription registrations depend on it. */
  readonly migrations: CustomResource;
  private readonly registrationProvider: cr.Provider;
  private metricsSchedule?: events.Rule;
  private readonly props: EventBusProps;

  constructor(scope: Construct, id: string, props: EventBusProps) {
    super(scope, id);
    this.props = props;
    this.queuePrefix = props.queuePrefix ?? "eventbus-";
    this.name = props.name ?? Stack.of(this).stackName;
    if (!/^[A-Za-z0-9_.:-]{1,255}$/.test(this.name)) {
      throw new Error(`name must be 1-255 characters of A-Za-z0-9_.:-, got "${this.name}"`);
    }
    if (!/^[A-Za-z0-9_-]{1,40}$/.test(this.queuePrefix)) {
      throw new Error(`queuePrefix must be 1-40 characters of A-Za-z0-9_-, got "${this.queuePrefix}"`);
    }

    this.vpc = props.vpc ?? this.createVpc(props.natGateways ?? 1);
    this.database = new EventBusDatabase(this, "Database", {
      vpc: this.vpc,
      existing: props.existingDatabase,
      minCapacity: props.databaseMinCapacity,
      maxCapacity: props.databaseMaxCapacity,
      removalPolicy: props.removalPolicy,
      deletionProtection: props.deletionProtection,
    });

    if (!props.oidc) {
      // A random HS256 key; the handlers read it once per cold start. Operators mint tokens with it.
      this.jwtSecret = new secretsmanager.Secret(this, "JwtSecret", {
        description: "HS256 signing key of the event bus's bearer tokens",
        generateSecretString: { passwordLength: 64, excludePunctuation: true },
      });
    }

    this.realtimeTable = new dynamodb.Table(this, "RealtimeTable", {
      partitionKey: { name: "pk", type: dynamodb.AttributeType.STRING },
      sortKey: { name: "sk", type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: "expiresAt",
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy:
        props.removalPolicy === RemovalPolicy.DESTROY ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });

    this.realtimeDeadLetterQueue = new sqs.Queue(this, "RealtimeDeadLetterQueue", {
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
    });
    this.realtimeQueue = new sqs.Queue(this, "RealtimeQueue", {
      // Six times the broadcaster's timeout, as AWS recommends for SQS event sources.
      visibilityTimeout: Duration.seconds(180),
      // Realtime is best-effort and live: a message an hour old is of no use to anybody.
      retentionPeriod: Duration.hours(1),
      enforceSSL: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      deadLetterQueue: { queue: this.realtimeDeadLetterQueue, maxReceiveCount: 5 },
    });

    this.webSocketApi = new apigwv2.WebSocketApi(this, "WebSocketApi", {
      description: "Event bus realtime API",
      routeSelectionExpression: "$request.body.action",
    });
    this.webSocketStage = new apigwv2.WebSocketStage(this, "WebSocketStage", {
      webSocketApi: this.webSocketApi,
      stageName: "live",
      autoDeploy: true,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup("WebSocket")),
      },
    });

    this.httpApi = new apigwv2.HttpApi(this, "HttpApi", {
      description: "Event bus HTTP API",
      createDefaultStage: false,
      ...(props.corsAllowOrigins
        ? {
            corsPreflight: {
              allowOrigins: props.corsAllowOrigins,
              allowMethods: [apigwv2.CorsHttpMethod.ANY],
              allowHeaders: ["authorization", "content-type"],
              maxAge: Duration.hours(1),
            },
          }
        : {}),
    });
    new apigwv2.HttpStage(this, "HttpStage", {
      httpApi: this.httpApi,
      stageName: "$default",
      autoDeploy: true,
      accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup("Http")) },
    });

    this.functions = {
      http: new Map(
        (props.httpRoutes ?? defaultHttpRoutes).map((route) => [route.name, this.addHttpRoute(route)]),
      ),
      ws: new Map(
        (props.wsRoutes ?? defaultWsRoutes).map((route) => [route.name, this.addWebSocketRoute(route)]),
      ),
      broadcaster: this.createBroadcaster(props.broadcasterEntry ?? "functions/realtime/broadcaster.ts"),
      metrics: this.createMetricsPublisher(
        props.metricsEntry ?? "functions/metrics/publishSubscriptionMetrics.ts",
      ),
    };

    this.migrations = this.createMigrations(props.migrateEntry ?? "functions/migrate/handler.ts");
    // Until the schema exists the measurements would only fail.
    this.metricsSchedule!.node.addDependency(this.migrations);
    const listener = this.createListener(props);
    this.listener = listener.service;
    this.listenerLogGroup = listener.logGroup;
    this.registrationProvider = this.createRegistrationProvider(
      props.registerSubscriptionEntry ?? "functions/registerSubscription/handler.ts",
    );

    for (const [name, subscription] of Object.entries(props.subscriptions ?? {})) {
      this.addSubscription(name, subscription);
    }
    for (const [name, capture] of Object.entries(props.captures ?? {})) {
      this.addCapture(name, capture);
    }

    const stack = Stack.of(this);
    new CfnOutput(stack, "HttpApiUrl", { value: this.httpApi.apiEndpoint, description: "HTTP API base URL" });
    new CfnOutput(stack, "ConsoleUrl", {
      value: `${this.httpApi.apiEndpoint}/console`,
      description: "Web console (sign in with a token)",
    });
    new CfnOutput(stack, "WebSocketUrl", {
      value: this.webSocketStage.url,
      description: "WebSocket API URL",
    });
    new CfnOutput(stack, "DatabaseSecretArn", { value: this.database.secret.secretArn });
    if (this.jwtSecret) {
      new CfnOutput(stack, "JwtSecretArn", {
        value: this.jwtSecret.secretArn,
        description: "HS256 key for minting tokens (see README: first token)",
      });
    }
  }

  /**
   * Declares a persistent subscription: its queue and DLQ, an optional consumer function, and its
   * registration in the event store (the same definition `PUT /subscriptions/{name}` takes).
   */
  addSubscription(name: string, props: EventBusSubscriptionProps = {}): EventBusSubscription {
    const subscription = new EventBusSubscription(this, `Subscription-${name}`, {
      ...props,
      name,
      queuePrefix: this.queuePrefix,
      registrationProvider: this.registrationProvider,
      vpc: this.vpc,
    });
    subscription.node.addDependency(this.migrations);
    this.subscriptions.push(subscription);
    return subscription;
  }

  /**
   * Declares a change capture of an application table: registered after the migrations with the same code
   * as `PUT /captures/{name}`, removed (and, with the last one, the replication slot dropped) with the app.
   */
  addCapture(name: string, props: EventBusCaptureProps): CustomResource {
    const capture = new CustomResource(this, `Capture-${name}`, {
      serviceToken: this.registrationProvider.serviceToken,
      resourceType: "Custom::EventBusCapture",
      properties: {
        Kind: "capture",
        Name: name,
        Definition: JSON.stringify({
          table: props.table,
          ...(props.replicaIdentityFull ? { replicaIdentityFull: true } : {}),
        }),
        RetainOnDelete: String(props.retainOnDelete ?? false),
      },
    });
    capture.node.addDependency(this.migrations);
    return capture;
  }

  /** ARN pattern of every subscription queue and DLQ the bus may create. */
  subscriptionQueueArns(): string {
    return Stack.of(this).formatArn({ service: "sqs", resource: `${this.queuePrefix}*` });
  }

  private createVpc(natGateways: number): ec2.Vpc {
    const vpc = new ec2.Vpc(this, "Vpc", {
      maxAzs: 2,
      natGateways,
      subnetConfiguration: [
        { name: "Public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: "Private", subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: "Database", subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      // Free gateway endpoints keep DynamoDB and ECR layer (S3) traffic off the NAT gateway.
      gatewayEndpoints: {
        DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
      },
    });
    vpc.addFlowLog("FlowLog", {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(
        new logs.LogGroup(this, "FlowLogs", {
          retention: logs.RetentionDays.ONE_MONTH,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
      ),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });
    return vpc;
  }

  private accessLogGroup(api: string): logs.LogGroup {
    return new logs.LogGroup(this, `${api}AccessLogs`, {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }

  /** Environment shared by every function that builds the handler runtime (Postgres + token verifier). */
  private runtimeEnvironment(): Record<string, string> {
    const { oidc, source } = this.props;
    return {
      ...this.database.lambdaEnvironment(),
      ...(oidc
        ? {
            EVENTBUS_OIDC_ISSUER: oidc.issuer,
            ...(oidc.audience ? { EVENTBUS_OIDC_AUDIENCE: oidc.audience } : {}),
          }
        : { EVENTBUS_JWT_SECRET_ARN: this.jwtSecret!.secretArn }),
      EVENTBUS_SOURCE: source ?? "urn:eventbus",
      EVENTBUS_QUEUE_PREFIX: this.queuePrefix,
      EVENTBUS_REALTIME_QUEUE_URL: this.realtimeQueue.queueUrl,
      EVENTBUS_REALTIME_TABLE: this.realtimeTable.tableName,
      EVENTBUS_WS_MANAGEMENT_ENDPOINT: this.webSocketStage.callbackUrl,
      EVENTBUS_NAME: this.name,
    };
  }

  /** A handler function with Postgres and token access plus exactly the capabilities given. */
  private createHandler(id: string, entry: string, capabilities: Capability[]): LambdaFunction {
    const fn = createEventBusFunction(this, id, {
      entry,
      environment: this.runtimeEnvironment(),
      vpc: this.vpc,
      securityGroups: [this.database.clientSecurityGroup],
    });
    this.database.grantConnect(fn);
    this.jwtSecret?.grantRead(fn);
    this.grant(fn, capabilities);
    return fn;
  }

  private grant(fn: IFunction, capabilities: Capability[]): void {
    const queues = this.subscriptionQueueArns();
    const allow = (actions: string[]) =>
      fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources: [queues] }));
    for (const capability of new Set(capabilities)) {
      switch (capability) {
        case "subscriptionQueues:read":
          allow(["sqs:GetQueueAttributes", "sqs:GetQueueUrl"]);
          break;
        case "subscriptionQueues:manage":
          allow(["sqs:CreateQueue", "sqs:DeleteQueue", "sqs:SetQueueAttributes", "sqs:TagQueue"]);
          break;
        case "subscriptionQueues:redrive":
          // Receive from the DLQ, send to the queue, delete from the DLQ (batch calls share these actions).
          allow(["sqs:ReceiveMessage", "sqs:SendMessage", "sqs:DeleteMessage"]);
          break;
        case "subscriptionQueues:peek":
          allow(["sqs:ReceiveMessage"]);
          break;
        case "realtimeQueue:send":
          this.realtimeQueue.grantSendMessages(fn);
          break;
        case "realtimeTable":
          this.realtimeTable.grantReadWriteData(fn);
          break;
        case "manageConnections":
          this.webSocketStage.grantManagementApiAccess(fn);
          break;
      }
    }
  }

  private addHttpRoute(route: RouteDefinition): LambdaFunction {
    const fn = this.createHandler(`Http${route.name}`, route.entry, httpRouteCapabilities(route.routeKey));
    new apigwv2.HttpRoute(this, `HttpRoute${route.name}`, {
      httpApi: this.httpApi,
      routeKey: httpRouteKey(route.routeKey),
      integration: new HttpLambdaIntegration(`Http${route.name}Integration`, fn, {
        payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
      }),
    });
    return fn;
  }

  private addWebSocketRoute(route: RouteDefinition): LambdaFunction {
    const id = route.name.startsWith("Ws") ? route.name : `Ws${route.name}`;
    const fn = this.createHandler(id, route.entry, wsRouteCapabilities(route.routeKey));
    this.webSocketApi.addRoute(route.routeKey, {
      integration: new WebSocketLambdaIntegration(`${id}Integration`, fn),
    });
    return fn;
  }

  private createBroadcaster(entry: string): LambdaFunction {
    // It also sends to its own queue: a large topic is split into deliveries that run in parallel.
    const fn = this.createHandler("Broadcaster", entry, [
      "realtimeTable",
      "manageConnections",
      "realtimeQueue:send",
    ]);
    fn.addEventSource(
      new SqsEventSource(this.realtimeQueue, {
        batchSize: 10,
        maxBatchingWindow: Duration.millis(0),
        reportBatchItemFailures: true,
      }),
    );
    return fn;
  }

  private createMetricsPublisher(entry: string): LambdaFunction {
    const fn = this.createHandler("SubscriptionMetrics", entry, ["subscriptionQueues:read"]);
    this.metricsSchedule = new events.Rule(this, "SubscriptionMetricsSchedule", {
      description: "Publishes subscription lag, queue depths and ownership",
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(fn, { retryAttempts: 0 })],
    });
    return fn;
  }

  private createMigrations(entry: string): CustomResource {
    const fn = createEventBusFunction(this, "Migrate", {
      entry,
      description: "Applies the event store's migrations on deploy",
      environment: this.database.directEnvironment(),
      timeout: Duration.minutes(5),
      vpc: this.vpc,
      securityGroups: [this.database.clientSecurityGroup],
    });
    this.database.grantConnect(fn);
    const provider = new cr.Provider(this, "MigrationsProvider", {
      onEventHandler: fn,
      logGroup: new logs.LogGroup(this, "MigrationsProviderLogs", {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    const resource = new CustomResource(this, "Migrations", {
      serviceToken: provider.serviceToken,
      resourceType: "Custom::EventBusMigrations",
      // A new migration changes this digest, so CloudFormation sends an Update and the handler applies it.
      properties: {
        Migrations: migrations.map((m) => m.id).join(","),
        Digest: createHash("sha256")
          .update(migrations.map((m) => m.sql).join("\n"))
          .digest("hex"),
      },
    });
    if (this.database.cluster) resource.node.addDependency(this.database.cluster);
    return resource;
  }

  private createRegistrationProvider(entry: string): cr.Provider {
    const fn = createEventBusFunction(this, "RegisterSubscription", {
      entry,
      description: "Registers subscriptions declared in CDK",
      environment: this.runtimeEnvironment(),
      timeout: Duration.minutes(1),
      vpc: this.vpc,
      securityGroups: [this.database.clientSecurityGroup],
    });
    this.database.grantConnect(fn);
    this.jwtSecret?.grantRead(fn);
    this.grant(fn, ["subscriptionQueues:read", "subscriptionQueues:manage"]);
    return new cr.Provider(this, "RegistrationProvider", {
      onEventHandler: fn,
      logGroup: new logs.LogGroup(this, "RegistrationProviderLogs", {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
  }

  private createListener(props: EventBusProps): { service: ecs.FargateService; logGroup: logs.LogGroup } {
    const cluster = new ecs.Cluster(this, "ListenerCluster", {
      vpc: this.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    const task = new ecs.FargateTaskDefinition(this, "ListenerTask", {
      cpu: 256,
      memoryLimitMiB: 512,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.ARM64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });
    const logGroup = new logs.LogGroup(this, "ListenerLogs", {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    task.addContainer("listener", {
      image: props.operators
        ? ecs.ContainerImage.fromAsset(stageListenerWithOperators(props.operators.entry), {
            platform: Platform.LINUX_ARM64,
          })
        : fromSources
          ? ecs.ContainerImage.fromAsset(repoRoot, {
              file: props.listenerDockerfile ?? "infra/listener/Dockerfile",
              platform: Platform.LINUX_ARM64,
              // The build context is the repository root; only what the build reads is sent to Docker.
              ignoreMode: IgnoreMode.DOCKER,
              exclude: listenerBuildContextExcludes,
            })
          : // The installed package: the listener pre-bundled by `npm run build`, with its own Dockerfile.
            ecs.ContainerImage.fromAsset(listenerBundleDir, { platform: Platform.LINUX_ARM64 }),
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: "listener", logGroup }),
      // An init process forwards SIGTERM to node, so a stopping task releases its subscriptions promptly.
      linuxParameters: new ecs.LinuxParameters(this, "ListenerLinuxParameters", { initProcessEnabled: true }),
      stopTimeout: Duration.seconds(30),
      environment: {
        ...this.database.directEnvironment(),
        EVENTBUS_SOURCE: props.source ?? "urn:eventbus",
        EVENTBUS_QUEUE_PREFIX: this.queuePrefix,
        EVENTBUS_REALTIME_QUEUE_URL: this.realtimeQueue.queueUrl,
        EVENTBUS_REALTIME_TABLE: this.realtimeTable.tableName,
        AWS_REGION: Aws.REGION,
        // The daemon sidecar below; containers of an awsvpc task share localhost.
        AWS_XRAY_DAEMON_ADDRESS: "127.0.0.1:2000",
      },
    });
    // X-Ray: the listener's hop of each sampled trace (append -> listener -> SQS -> consumer) goes to this
    // daemon over UDP, which batches it to X-Ray. Not essential: the listener forwards without it. Pinned to
    // the major version AWS's ECS examples use: security fixes arrive, a new major does not on redeploy.
    task.addContainer("xray-daemon", {
      image: ecs.ContainerImage.fromRegistry("public.ecr.aws/xray/aws-xray-daemon:3.x"),
      essential: false,
      portMappings: [{ containerPort: 2000, protocol: ecs.Protocol.UDP }],
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: "xray", logGroup }),
    });
    task.taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          "xray:PutTraceSegments",
          "xray:PutTelemetryRecords",
          "xray:GetSamplingRules",
          "xray:GetSamplingTargets",
          "xray:GetSamplingStatisticSummaries",
        ],
        // X-Ray takes no resource-level permissions for these.
        resources: ["*"],
      }),
    );
    this.database.grantConnect(task.taskRole);
    task.taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          "sqs:CreateQueue",
          "sqs:DeleteQueue",
          "sqs:SendMessage",
          "sqs:GetQueueAttributes",
          "sqs:GetQueueUrl",
          "sqs:SetQueueAttributes",
          "sqs:TagQueue",
        ],
        resources: [this.subscriptionQueueArns()],
      }),
    );
    this.realtimeQueue.grantSendMessages(task.taskRole);
    const service = new ecs.FargateService(this, "Listener", {
      cluster,
      taskDefinition: task,
      desiredCount: props.listenerDesiredCount ?? 2,
      minHealthyPercent: 50,
      maxHealthyPercent: 200,
      circuitBreaker: { rollback: true },
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [this.database.clientSecurityGroup],
      assignPublicIp: false,
    });
    service.node.addDependency(this.migrations);
    return { service, logGroup };
  }
}

/**
 * Docker-style patterns: everything is excluded except what `infra/listener/Dockerfile` copies. Keeps
 * node_modules, cdk.out and .eventbus out of the asset (and out of its hash).
 */
export const listenerBuildContextExcludes = [
  "*",
  "!package.json",
  "!package-lock.json",
  "!tsconfig.json",
  "!lib",
  "!functions",
  "!infra/listener",
  "!patches",
];

/** `GET /streams/{id}` -> an `HttpRouteKey`; `$default` stays the catch-all. */
function httpRouteKey(routeKey: string): apigwv2.HttpRouteKey {
  if (routeKey === "$default") return apigwv2.HttpRouteKey.DEFAULT;
  const [method, path] = routeKey.split(" ");
  const httpMethod = apigwv2.HttpMethod[method as keyof typeof apigwv2.HttpMethod];
  if (!httpMethod || !path) throw new Error(`Unsupported HTTP route key "${routeKey}"`);
  return apigwv2.HttpRouteKey.with(path, httpMethod);
}
