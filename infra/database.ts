import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import type { IGrantable } from "aws-cdk-lib/aws-iam";
import * as rds from "aws-cdk-lib/aws-rds";
import type { ISecret } from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";

/** A PostgreSQL database the bus should use instead of creating its own Aurora cluster. */
export interface ExistingDatabase {
  /** Secrets Manager secret holding `{username, password, host, port, dbname}` (the RDS secret shape). */
  secret: ISecret;
  /**
   * Security group the database accepts connections from; the bus's functions and listener join it.
   * Without one, open the database's own security group to the VPC yourself.
   */
  clientSecurityGroup?: ec2.ISecurityGroup;
  /**
   * Host that Lambda functions connect through: a pooler (RDS Proxy, PgBouncer) in front of the database,
   * so that bursts of concurrent functions cannot exhaust its connections. Defaults to the secret's host.
   */
  pooledHost?: string;
}

export interface EventBusDatabaseProps {
  vpc: ec2.IVpc;
  existing?: ExistingDatabase;
  /** Aurora Serverless v2 capacity range in ACUs. 0 lets an idle cluster pause. */
  minCapacity?: number;
  maxCapacity?: number;
  removalPolicy?: RemovalPolicy;
  /** Default: on, unless `removalPolicy` is DESTROY. Turn off (and deploy) before `cdk destroy`. */
  deletionProtection?: boolean;
}

/**
 * The event store's Postgres: Aurora Serverless v2 behind an RDS Proxy, or an existing database given by
 * its secret. Lambda functions connect through `pooledHost`; the listener and the migrations connect to
 * `directHost` because they hold session state (LISTEN, session advisory locks) that a proxy would pin.
 */
export class EventBusDatabase extends Construct {
  readonly secret: ISecret;
  /** Host for Lambda functions (the proxy). `undefined`: use the secret's host. */
  readonly pooledHost: string | undefined;
  /** Security group of every client; the database (and proxy) accept connections from it. */
  readonly clientSecurityGroup: ec2.ISecurityGroup;
  readonly cluster?: rds.DatabaseCluster;
  readonly proxy?: rds.DatabaseProxy;

  constructor(scope: Construct, id: string, props: EventBusDatabaseProps) {
    super(scope, id);
    if (props.existing) {
      this.secret = props.existing.secret;
      this.pooledHost = props.existing.pooledHost;
      this.clientSecurityGroup =
        props.existing.clientSecurityGroup ??
        new ec2.SecurityGroup(this, "ClientSecurityGroup", {
          vpc: props.vpc,
          description: "Event bus database clients",
        });
      return;
    }

    this.clientSecurityGroup = new ec2.SecurityGroup(this, "ClientSecurityGroup", {
      vpc: props.vpc,
      description: "Event bus database clients",
    });
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.SNAPSHOT;
    const cluster = new rds.DatabaseCluster(this, "Cluster", {
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_6 }),
      // Change capture reads the WAL through a logical replication slot.
      parameters: { "rds.logical_replication": "1" },
      credentials: rds.Credentials.fromGeneratedSecret("eventbus"),
      defaultDatabaseName: "eventbus",
      writer: rds.ClusterInstance.serverlessV2("Writer"),
      serverlessV2MinCapacity: props.minCapacity ?? 0.5,
      serverlessV2MaxCapacity: props.maxCapacity ?? 4,
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      storageEncrypted: true,
      iamAuthentication: true,
      deletionProtection: props.deletionProtection ?? removalPolicy !== RemovalPolicy.DESTROY,
      removalPolicy,
      backup: { retention: Duration.days(7) },
      cloudwatchLogsExports: ["postgresql"],
      port: 5432,
    });
    const proxy = cluster.addProxy("Proxy", {
      vpc: props.vpc,
      secrets: [cluster.secret!],
      requireTLS: true,
      // Leaves headroom on the cluster for the listener's direct connections and for operators.
      maxConnectionsPercent: 80,
      borrowTimeout: Duration.seconds(10),
    });
    cluster.connections.allowDefaultPortFrom(this.clientSecurityGroup, "Listener and migrations (direct)");
    proxy.connections.allowFrom(this.clientSecurityGroup, ec2.Port.tcp(5432), "Lambda functions");
    this.cluster = cluster;
    this.proxy = proxy;
    this.secret = cluster.secret!;
    this.pooledHost = proxy.endpoint;
  }

  /** Lets `grantee` read the database secret (every client needs the credentials). */
  grantConnect(grantee: IGrantable): void {
    this.secret.grantRead(grantee);
  }

  /** Environment of a Lambda function: credentials from the secret, host overridden by the proxy. */
  lambdaEnvironment(): Record<string, string> {
    return {
      DATABASE_SECRET_ARN: this.secret.secretArn,
      ...(this.pooledHost ? { DATABASE_HOST: this.pooledHost } : {}),
      // One connection per execution environment: concurrency is Lambda's job, not the pool's.
      DATABASE_POOL_MAX: "1",
      // Through a pooler, named prepared statements would pin each client to one server connection.
      ...(this.pooledHost ? { DATABASE_PREPARE: "false" } : {}),
    };
  }

  /** Environment of long-lived clients (listener, migrations): the secret's own, direct host. */
  directEnvironment(): Record<string, string> {
    return { DATABASE_SECRET_ARN: this.secret.secretArn };
  }
}
