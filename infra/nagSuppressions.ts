import type { Stack } from "aws-cdk-lib";
import { CfnFunction, Function as LambdaFunction, Tracing } from "aws-cdk-lib/aws-lambda";
import { NagSuppressions } from "cdk-nag";

/**
 * The AwsSolutions findings this stack accepts, each with the reason. Everything else cdk-nag reports is a
 * defect (the infra tests fail on any unsuppressed finding). Wildcard suppressions name the exact resource
 * pattern they allow, so a new, broader wildcard is still reported.
 */
export function suppressExplainedFindings(stack: Stack): void {
  // X-Ray tracing (Tracing.ACTIVE) adds xray:PutTraceSegments / PutTelemetryRecords, which have no
  // resource-level permissions: "*" is the only resource they take. Suppressed per traced function's policy.
  for (const node of stack.node.findAll()) {
    if (!(node instanceof CfnFunction)) continue;
    const tracing = node.tracingConfig as CfnFunction.TracingConfigProperty | undefined;
    if (tracing?.mode !== Tracing.ACTIVE) continue;
    const fn = node.node.scope;
    if (!(fn instanceof LambdaFunction)) continue;
    const policy = fn.role?.node.tryFindChild("DefaultPolicy");
    if (!policy) continue;
    NagSuppressions.addResourceSuppressions(
      policy,
      [
        {
          id: "AwsSolutions-IAM5",
          reason: "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions.",
          appliesTo: ["Resource::*"],
        },
      ],
      true,
    );
  }
  NagSuppressions.addStackSuppressions(
    stack,
    [
      {
        id: "AwsSolutions-IAM4",
        reason:
          "AWSLambdaBasicExecutionRole (write own logs) and AWSLambdaVPCAccessExecutionRole (manage the function's ENIs) are the narrow AWS-maintained policies for exactly these needs.",
        appliesTo: [
          "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
          "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
        ],
      },
      {
        id: "AwsSolutions-L1",
        reason:
          "Node.js 22 is the runtime the bus is built and tested for; moving to a newer runtime is a deliberate upgrade, not a drift.",
      },
      {
        id: "AwsSolutions-APIG4",
        reason:
          "Every route authorises in its handler: a bearer JWT (HS256 from Secrets Manager or OIDC) with scopes and stream-pattern claims that API Gateway authorizers cannot evaluate; WebSocket clients are verified in $connect from ?token=. Unauthenticated requests get 401, unauthorised 403.",
      },
      {
        id: "AwsSolutions-SMG4",
        reason:
          "The JWT signing key is rotated by the operator (rotation invalidates every issued token). The database secret is read at cold start by Lambda functions and the listener; automatic rotation would break their reconnections until they restart - rotate it with a redeploy instead.",
      },
      {
        id: "AwsSolutions-RDS10",
        reason:
          "Deletion protection is on by default; it is off only when the operator deploys with deletionProtection=false in order to run cdk destroy (the cluster still leaves a final snapshot).",
      },
      {
        id: "AwsSolutions-ECS2",
        reason:
          "The listener's environment holds only non-secret identifiers (secret ARN, queue URL, queue prefix, source); the credentials themselves are read from Secrets Manager at run time.",
      },
      {
        id: "AwsSolutions-IAM5",
        reason:
          "WebSocket connection ids exist only at run time; the grant is limited to @connections of this API's stage.",
        appliesTo: [
          {
            regex:
              "/^Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<[A-Za-z0-9]+>/[A-Za-z0-9_-]+/\\*/@connections/\\*$/",
          },
        ],
      },
      {
        id: "AwsSolutions-IAM5",
        reason:
          "Subscription queues are created at run time (PUT /subscriptions/{name}) with names that are not known at deploy time; the grant is limited to the bus's queue-name prefix.",
        appliesTo: [
          {
            regex: "/^Resource::arn:<AWS::Partition>:sqs:<AWS::Region>:<AWS::AccountId>:[A-Za-z0-9_-]+\\*$/",
          },
        ],
      },
      {
        id: "AwsSolutions-IAM5",
        reason:
          "CDK's custom resource Provider framework invokes its handler function's versions (<function arn>:*); the handler itself is scoped.",
        appliesTo: [{ regex: "/^Resource::<[A-Za-z0-9]+\\.Arn>:\\*$/" }],
      },
    ],
    true,
  );
  // ecr:GetAuthorizationToken (pulling the listener's image) cannot be scoped to a resource.
  NagSuppressions.addResourceSuppressionsByPath(
    stack,
    `/${stack.stackName}/Bus/ListenerTask/ExecutionRole/DefaultPolicy/Resource`,
    [
      {
        id: "AwsSolutions-IAM5",
        reason: "ecr:GetAuthorizationToken supports no resource-level permissions (CDK's image pull grant).",
        appliesTo: ["Resource::*"],
      },
    ],
  );
  // The listener task's X-Ray daemon sidecar: its write and sampling actions take no resource.
  NagSuppressions.addResourceSuppressionsByPath(
    stack,
    `/${stack.stackName}/Bus/ListenerTask/TaskRole/DefaultPolicy/Resource`,
    [
      {
        id: "AwsSolutions-IAM5",
        reason:
          "X-Ray's PutTraceSegments, PutTelemetryRecords and sampling-rule reads (the daemon sidecar) support no resource-level permissions.",
        appliesTo: ["Resource::*"],
      },
    ],
  );
}
