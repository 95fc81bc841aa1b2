import { Duration } from "aws-cdk-lib";
import { describe, expect, it } from "vitest";
import { httpRoutes } from "../../functions/http/routes.ts";
import { wsRoutes } from "../../functions/ws/routes.ts";
import { httpRouteCapabilities, wsRouteCapabilities } from "../../infra/routeGrants.ts";
import { functionResource, grantsOf, resourcesOf, synthesise } from "./synth.ts";

// Template-only variants: bundling is skipped (the bundled synth is covered by stack.test.ts).
const existingSecretArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shared-postgres-AbCdEf";

describe("an existing database and an OIDC issuer", () => {
  const synth = synthesise({
    bundle: false,
    existingDatabase: { secretArn: existingSecretArn, pooledHost: "pgbouncer.internal" },
    bus: { httpRoutes, wsRoutes, oidc: { issuer: "https://auth.example.com/", audience: "eventbus" } },
  });

  it("creates no Aurora cluster, proxy or token secret", () => {
    synth.template.resourceCountIs("AWS::RDS::DBCluster", 0);
    synth.template.resourceCountIs("AWS::RDS::DBProxy", 0);
    synth.template.resourceCountIs("AWS::SecretsManager::Secret", 0);
    expect(Object.keys(synth.template.findOutputs("*"))).not.toContain("JwtSecretArn");
  });

  it("points functions at the given secret and pooler, and verifies tokens with the issuer", () => {
    const env = functionResource(synth.template, "HttpAppendEvents").Properties.Environment.Variables;
    expect(env).toMatchObject({
      DATABASE_SECRET_ARN: existingSecretArn,
      DATABASE_HOST: "pgbouncer.internal",
      EVENTBUS_OIDC_ISSUER: "https://auth.example.com/",
      EVENTBUS_OIDC_AUDIENCE: "eventbus",
    });
    expect(env.EVENTBUS_JWT_SECRET_ARN).toBeUndefined();
    const secretGrant = grantsOf(synth.template, "HttpAppendEvents").find((g) =>
      g.actions.includes("secretsmanager:GetSecretValue"),
    );
    expect(secretGrant?.resource).toBe(JSON.stringify(existingSecretArn));
  });

  it("still passes cdk-nag without unexplained findings", () => {
    expect(synth.nagFindings).toEqual([]);
  });
});

describe("teardown", () => {
  it("can turn Aurora's deletion protection off for cdk destroy, keeping a final snapshot", () => {
    const synth = synthesise({ bundle: false, bus: { httpRoutes, wsRoutes, deletionProtection: false } });
    const [[, cluster]] = resourcesOf(synth.template, "AWS::RDS::DBCluster") as [[string, any]];
    expect(cluster.Properties.DeletionProtection).toBe(false);
    expect(cluster.DeletionPolicy).toBe("Snapshot");
    expect(synth.nagFindings).toEqual([]);
  });
});

describe("configuration errors fail at synth, not half-way through a deployment", () => {
  it("rejects a subscription definition the API would reject", () => {
    expect(() =>
      synthesise({
        bundle: false,
        subscriptions: { audit: { definition: { ordering: "sorted" as never } } },
      }),
    ).toThrow(/Invalid subscription/);
  });

  it("rejects a subscription name that does not fit SQS's queue names", () => {
    expect(() => synthesise({ bundle: false, subscriptions: { "not a name": {} } })).toThrow(
      /Subscription name 'not a name' must be 1-64 characters/,
    );
  });

  it("rejects a consumer that would outlive the queue's visibility timeout", () => {
    expect(() =>
      synthesise({
        bundle: false,
        subscriptions: {
          slow: {
            definition: { visibilityTimeout: 10 },
            consumer: { entry: "test/infra/fixtures/consumer.ts", timeout: Duration.seconds(20) },
          },
        },
      }),
    ).toThrow(/consumer's timeout \(20 s\) must be between 1 s and the visibilityTimeout \(10 s\)/);
  });

  it("rejects a queue prefix IAM and the listener could not use", () => {
    expect(() =>
      synthesise({ bundle: false, bus: { httpRoutes, wsRoutes, queuePrefix: "bad prefix*" } }),
    ).toThrow(/queuePrefix/);
  });
});

describe("route grants", () => {
  it("give a route that the table does not know nothing beyond Postgres and the token secret", () => {
    expect(httpRouteCapabilities("PATCH /widgets/{id}")).toEqual([]);
    expect(wsRouteCapabilities("dance")).toEqual([]);
  });

  it("let the presence route ask API Gateway about members (GetConnection) and the connection routes manage them", () => {
    const managing = httpRoutes
      .filter((r) => httpRouteCapabilities(r.routeKey).includes("manageConnections"))
      .map((r) => r.routeKey)
      .sort();
    expect(managing).toContain("GET /topics/{topic}/presence");
    expect(managing.every((key) => key.includes("/connections/") || key.endsWith("/presence"))).toBe(true);
  });

  it("give only subscription management routes the right to create and delete queues", () => {
    const managing = httpRoutes
      .filter((r) => httpRouteCapabilities(r.routeKey).includes("subscriptionQueues:manage"))
      .map((r) => r.routeKey)
      .sort();
    expect(managing).toEqual(["DELETE /subscriptions/{name}", "PUT /subscriptions/{name}"]);
  });

  it("follow the queue prefix into every SQS grant", () => {
    const synth = synthesise({ bundle: false, bus: { httpRoutes, wsRoutes, queuePrefix: "orders-bus-" } });
    const statements = resourcesOf(synth.template, "AWS::IAM::Policy").flatMap(
      ([, p]) => p.Properties.PolicyDocument.Statement,
    );
    const prefixed = statements.filter((s: any) => [s.Action].flat().includes("sqs:CreateQueue"));
    expect(prefixed.length).toBeGreaterThan(0);
    for (const statement of prefixed) expect(JSON.stringify(statement.Resource)).toContain(":orders-bus-*");
  });
});
