import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Match } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { httpRoutes } from "../../functions/http/routes.ts";
import { wsRoutes } from "../../functions/ws/routes.ts";
import {
  functionLogicalId,
  functionResource,
  grantsOf,
  resourcesOf,
  type Synthesised,
  synthesise,
} from "./synth.ts";

// One real synth for the whole file: every function bundled by the local esbuild, cdk-nag applied.
let synth: Synthesised;
beforeAll(() => {
  synth = synthesise({
    bundle: true,
    subscriptions: {
      audit: {
        definition: { filter: { type: [{ prefix: "Order" }] }, ordering: "stream", visibilityTimeout: 60 },
        consumer: { entry: "test/infra/fixtures/consumer.ts", batchSize: 5 },
      },
    },
    alarmEmail: "ops@example.com",
    bus: { captures: { orders: { table: "public.orders", replicaIdentityFull: true } } },
  });
}, 240_000);

const fnId = (name: string) => (name.startsWith("Ws") ? name : `Http${name}`);
const allActions = (functionId: string) => grantsOf(synth.template, functionId).flatMap((g) => g.actions);

describe("synthesised stack", () => {
  it("runs Aurora with logical replication and registers declared captures after the migrations", () => {
    synth.template.hasResourceProperties("AWS::RDS::DBClusterParameterGroup", {
      Parameters: { "rds.logical_replication": "1" },
    });
    const captures = synth.template.findResources("Custom::EventBusCapture");
    expect(Object.values(captures)).toEqual([
      expect.objectContaining({
        Properties: expect.objectContaining({
          Kind: "capture",
          Name: "orders",
          Definition: JSON.stringify({ table: "public.orders", replicaIdentityFull: true }),
        }),
        DependsOn: expect.arrayContaining([expect.stringMatching(/Migrations/)]),
      }),
    ]);
  });

  it("has no cdk-nag AwsSolutions finding that is not explained by a suppression", () => {
    expect(synth.nagFindings).toEqual([]);
  });

  it("bundles every function with esbuild at synth, without Docker", () => {
    const functions = resourcesOf(synth.template, "AWS::Lambda::Function").filter(
      ([, r]) => r.Properties.Runtime === "nodejs22.x",
    );
    // Each route, the broadcaster, the metrics publisher, both custom resource handlers, the consumer.
    expect(functions).toHaveLength(httpRoutes.length + wsRoutes.length + 5);
    for (const [, fn] of functions) {
      expect(fn.Properties.Architectures).toEqual(["arm64"]);
      // The bus's handlers share one asset (one esbuild run, one upload); `Handler` names the file.
      const assetDir = join(synth.outdir, fn.Metadata["aws:asset:path"]);
      const file = `${String(fn.Properties.Handler).replace(/\.handler$/, "")}.mjs`;
      const bundle = readFileSync(join(assetDir, file), "utf8");
      expect(bundle.length).toBeGreaterThan(100);
      // Nothing left to resolve at run time but Node built-ins.
      expect(bundle).not.toMatch(/from\s*"(postgres|zod|jose|@aws-sdk\/[a-z-]+)"/);
    }
    const assets = new Set(functions.map(([, fn]) => fn.Metadata["aws:asset:path"]));
    // The bus's own handlers in one, the consumer (the user's module) in its own.
    expect(assets.size).toBe(2);
  });

  it("puts each HTTP route on its own function behind the HTTP API, $default included", () => {
    const [httpApiId] = resourcesOf(synth.template, "AWS::ApiGatewayV2::Api").find(
      ([, api]) => api.Properties.ProtocolType === "HTTP",
    )!;
    const routes = resourcesOf(synth.template, "AWS::ApiGatewayV2::Route").filter(
      ([, r]) => r.Properties.ApiId.Ref === httpApiId,
    );
    expect(routes).toHaveLength(httpRoutes.length);
    const integrations: Record<string, any> = synth.template.findResources("AWS::ApiGatewayV2::Integration");
    for (const route of httpRoutes) {
      const [, resource] = routes.find(([, r]) => r.Properties.RouteKey === route.routeKey) ?? [];
      expect(resource, route.routeKey).toBeDefined();
      const integrationId = resource.Properties.Target["Fn::Join"][1][1].Ref;
      const uri = JSON.stringify(integrations[integrationId].Properties.IntegrationUri);
      expect(uri).toContain(functionLogicalId(synth.template, fnId(route.name)));
      expect(integrations[integrationId].Properties.PayloadFormatVersion).toBe("2.0");
    }
  });

  it("routes WebSocket frames on `action` to one function per route", () => {
    synth.template.hasResourceProperties("AWS::ApiGatewayV2::Api", {
      ProtocolType: "WEBSOCKET",
      RouteSelectionExpression: "$request.body.action",
    });
    const keys = resourcesOf(synth.template, "AWS::ApiGatewayV2::Route").map(
      ([, r]) => r.Properties.RouteKey,
    );
    for (const route of wsRoutes) {
      expect(keys).toContain(route.routeKey);
      functionLogicalId(synth.template, fnId(route.name));
    }
  });

  it("runs Aurora Serverless v2 PostgreSQL behind an RDS Proxy that Lambda functions use", () => {
    synth.template.hasResourceProperties("AWS::RDS::DBCluster", {
      Engine: "aurora-postgresql",
      StorageEncrypted: true,
      DeletionProtection: true,
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 },
    });
    synth.template.hasResourceProperties("AWS::RDS::DBInstance", { DBInstanceClass: "db.serverless" });
    synth.template.hasResourceProperties("AWS::RDS::DBProxy", {
      EngineFamily: "POSTGRESQL",
      RequireTLS: true,
    });
    const [proxyId] = resourcesOf(synth.template, "AWS::RDS::DBProxy")[0]!;
    const appendFn = functionResource(synth.template, "HttpAppendEvents");
    expect(appendFn.Properties.Environment.Variables.DATABASE_HOST).toEqual({
      "Fn::GetAtt": [proxyId, "Endpoint"],
    });
    expect(appendFn.Properties.Environment.Variables.DATABASE_POOL_MAX).toBe("1");
    expect(appendFn.Properties.Environment.Variables.DATABASE_PREPARE).toBe("false");
    expect(appendFn.Properties.VpcConfig).toBeDefined();
  });

  it("applies the migrations on deploy through a custom resource that changes with them", () => {
    const [[, resource]] = resourcesOf(synth.template, "Custom::EventBusMigrations") as [[string, any]];
    expect(resource.Properties.Migrations).toMatch(/^1,2/);
    expect(resource.Properties.Digest).toMatch(/^[0-9a-f]{64}$/);
    // The migrations connect directly to the cluster (the secret's host), not through the proxy.
    const migrate = functionResource(synth.template, "Migrate");
    expect(migrate.Properties.Environment.Variables.DATABASE_HOST).toBeUndefined();
  });

  it("keeps realtime state in one DynamoDB table with TTL and point-in-time recovery", () => {
    const tables = resourcesOf(synth.template, "AWS::DynamoDB::Table");
    expect(tables).toHaveLength(1);
    const props = tables[0]![1].Properties;
    expect(props.KeySchema).toEqual([
      { AttributeName: "pk", KeyType: "HASH" },
      { AttributeName: "sk", KeyType: "RANGE" },
    ]);
    expect(props.TimeToLiveSpecification).toEqual({ AttributeName: "expiresAt", Enabled: true });
    expect(props.BillingMode).toBe("PAY_PER_REQUEST");
    expect(props.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(props.GlobalSecondaryIndexes).toBeUndefined();
  });

  it("drains the realtime fan-out queue (with a DLQ) into the broadcaster with partial batch failures", () => {
    synth.template.hasResourceProperties("AWS::SQS::Queue", {
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 5 }),
    });
    synth.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: functionLogicalId(synth.template, "Broadcaster") },
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
  });

  it("runs two listener tasks on Fargate ARM64, built from the repository's Dockerfile", () => {
    synth.template.hasResourceProperties("AWS::ECS::Service", { DesiredCount: 2, LaunchType: "FARGATE" });
    synth.template.hasResourceProperties("AWS::ECS::TaskDefinition", {
      RuntimePlatform: { CpuArchitecture: "ARM64", OperatingSystemFamily: "LINUX" },
      ContainerDefinitions: [
        Match.objectLike({
          Environment: Match.arrayWith([
            { Name: "EVENTBUS_QUEUE_PREFIX", Value: "eventbus-" },
            { Name: "AWS_XRAY_DAEMON_ADDRESS", Value: "127.0.0.1:2000" },
          ]),
        }),
        // The X-Ray daemon sidecar the listener sends its segments to; the listener runs without it.
        Match.objectLike({
          Name: "xray-daemon",
          Image: "public.ecr.aws/xray/aws-xray-daemon:3.x",
          Essential: false,
          PortMappings: [Match.objectLike({ ContainerPort: 2000, Protocol: "udp" })],
        }),
      ],
    });
    const assets = JSON.parse(readFileSync(join(synth.outdir, "EventBusTest.assets.json"), "utf8"));
    const images = Object.values(assets.dockerImages) as any[];
    expect(images).toHaveLength(1);
    expect(images[0].source.dockerFile).toBe("infra/listener/Dockerfile");
    expect(images[0].source.platform).toBe("linux/arm64");
    // The staged build context holds what the Dockerfile copies and nothing heavy.
    const context = join(synth.outdir, images[0].source.directory);
    expect(existsSync(join(context, "functions/listener/main.ts"))).toBe(true);
    expect(existsSync(join(context, "infra/listener/Dockerfile"))).toBe(true);
    expect(readdirSync(context).sort()).toEqual([
      "functions",
      "infra",
      "lib",
      "package-lock.json",
      "package.json",
      "patches",
      "tsconfig.json",
    ]);
  });

  it("lets the listener manage only queues named with the prefix", () => {
    const taskRolePolicies = resourcesOf(synth.template, "AWS::IAM::Policy").filter(([id]) =>
      id.includes("ListenerTaskTaskRole"),
    );
    const statements = taskRolePolicies.flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    const queueStatement = statements.find((s: any) => [s.Action].flat().includes("sqs:CreateQueue"));
    expect(queueStatement.Action).toEqual(
      expect.arrayContaining([
        "sqs:CreateQueue",
        "sqs:DeleteQueue",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
      ]),
    );
    expect(JSON.stringify(queueStatement.Resource)).toContain(":eventbus-*");
    // It tells which events have an audience from Postgres (listened topics), so it has no access at all to
    // the realtime table.
    const tableActions = statements
      .filter((s: any) => JSON.stringify(s.Resource).includes("RealtimeTable"))
      .flatMap((s: any) => [s.Action].flat());
    expect(tableActions).toEqual([]);
  });

  it("grants each function only what its route needs", () => {
    const append = allActions("HttpAppendEvents");
    expect(
      append.some((a) => a.startsWith("sqs:") || a.startsWith("dynamodb:") || a.startsWith("execute-api:")),
    ).toBe(false);
    expect(append).toContain("secretsmanager:GetSecretValue");

    expect(allActions("HttpPutSubscription")).toEqual(
      expect.arrayContaining(["sqs:CreateQueue", "sqs:SetQueueAttributes"]),
    );
    expect(allActions("HttpGetSubscription")).not.toContain("sqs:CreateQueue");
    expect(allActions("HttpRedriveSubscription")).toEqual(
      expect.arrayContaining(["sqs:ReceiveMessage", "sqs:SendMessage", "sqs:DeleteMessage"]),
    );
    expect(allActions("HttpPublishToTopic")).toContain("sqs:SendMessage");
    expect(allActions("HttpPublishToTopic").some((a) => a.startsWith("dynamodb:"))).toBe(false);
    expect(allActions("HttpPostToConnection")).toContain("execute-api:ManageConnections");

    expect(allActions("WsConnect")).not.toContain("execute-api:ManageConnections");
    expect(allActions("WsConnect")).toContain("dynamodb:PutItem");
    expect(allActions("WsSubscribe")).toEqual(
      expect.arrayContaining(["dynamodb:Query", "execute-api:ManageConnections"]),
    );
    expect(allActions("WsPublish")).toContain("sqs:SendMessage");
    expect(allActions("Broadcaster")).toEqual(
      expect.arrayContaining([
        "sqs:ReceiveMessage",
        "sqs:SendMessage",
        "dynamodb:Query",
        "execute-api:ManageConnections",
      ]),
    );
  });

  it("generates the token signing key in Secrets Manager and hands its ARN to the handlers", () => {
    const secrets = resourcesOf(synth.template, "AWS::SecretsManager::Secret");
    const jwt = secrets.find(([id]) => id.includes("JwtSecret"));
    expect(jwt![1].Properties.GenerateSecretString).toMatchObject({ PasswordLength: 64 });
    const env = functionResource(synth.template, "HttpAppendEvents").Properties.Environment.Variables;
    expect(env.EVENTBUS_JWT_SECRET_ARN).toEqual({ Ref: jwt![0] });
    expect(env.EVENTBUS_REALTIME_TABLE).toBeDefined();
    expect(env.EVENTBUS_WS_MANAGEMENT_ENDPOINT).toBeDefined();
  });

  it("registers a declared subscription with the API's definition shape and wires its consumer", () => {
    const [[, registration]] = resourcesOf(synth.template, "Custom::EventBusSubscription") as [[string, any]];
    expect(registration.Properties.Name).toBe("audit");
    // Every field the API's definition has, defaults applied (toMatchObject: newer fields have defaults too).
    expect(JSON.parse(registration.Properties.Definition)).toMatchObject({
      filter: { type: [{ prefix: "Order" }] },
      startFrom: "origin",
      ordering: "stream",
      maxReceiveCount: 5,
      visibilityTimeout: 60,
    });
    const consumerId = functionLogicalId(synth.template, "Consumer");
    const mapping = resourcesOf(synth.template, "AWS::Lambda::EventSourceMapping").find(
      ([, m]) => m.Properties.FunctionName.Ref === consumerId,
    );
    expect(mapping![1].Properties.BatchSize).toBe(5);
    expect(mapping![1].Properties.FunctionResponseTypes).toEqual(["ReportBatchItemFailures"]);
    expect(JSON.stringify(mapping![1].Properties.EventSourceArn)).toContain(":eventbus-audit.fifo");
  });

  it("measures every subscription each minute, with only read access to the queues", () => {
    const metricsId = functionLogicalId(synth.template, "SubscriptionMetrics");
    synth.template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(1 minute)",
      Targets: [Match.objectLike({ Arn: { "Fn::GetAtt": [metricsId, "Arn"] } })],
    });
    const actions = allActions("SubscriptionMetrics");
    expect(actions).toContain("sqs:GetQueueAttributes");
    expect(actions).not.toContain("sqs:CreateQueue");
    expect(
      functionResource(synth.template, "SubscriptionMetrics").Properties.Environment.Variables.EVENTBUS_NAME,
    ).toBe("EventBusTest");
  });

  it("alarms on subscription lag, dead letters, parked events, ownership, message age and 5xx, and notifies the alarm e-mail", () => {
    const alarms = resourcesOf(synth.template, "AWS::CloudWatch::Alarm").map(([, a]) => a.Properties);
    const queries = alarms.flatMap((a) => (a.Metrics ?? []).map((m: any) => m.Expression).filter(Boolean));
    const schema = `FROM SCHEMA("EventBus", Bus, Subscription) WHERE Bus = 'EventBusTest'`;
    expect(queries).toEqual(
      expect.arrayContaining([
        `SELECT MAX(SubscriptionLag) ${schema}`,
        `SELECT MAX(SubscriptionDeadLetters) ${schema}`,
        `SELECT MAX(SubscriptionParked) ${schema}`,
        `SELECT MIN(SubscriptionOwned) ${schema}`,
        `SELECT MAX(SubscriptionFailing) ${schema}`,
      ]),
    );
    expect(alarms.some((a) => a.MetricName === "5xx" && a.Namespace === "AWS/ApiGateway")).toBe(true);
    expect(alarms.filter((a) => a.MetricName === "ApproximateNumberOfMessagesVisible")).toHaveLength(1); // realtime DLQ
    // The realtime queue and the declared subscription's queue.
    expect(alarms.filter((a) => a.MetricName === "ApproximateAgeOfOldestMessage")).toHaveLength(2);
    for (const alarm of alarms) expect(alarm.AlarmActions).toHaveLength(1);
    synth.template.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "email",
      Endpoint: "ops@example.com",
    });
    synth.template.resourceCountIs("AWS::CloudWatch::Dashboard", 1);
  });

  it("outputs the API URLs and the secret an operator mints tokens with", () => {
    const outputs = synth.template.findOutputs("*");
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining(["HttpApiUrl", "WebSocketUrl", "JwtSecretArn", "DatabaseSecretArn"]),
    );
  });
});
