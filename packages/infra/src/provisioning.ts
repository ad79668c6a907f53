import {
  CLAIM_CLIENT_ID_PREFIX,
  claimPublishTopics,
  claimSubscribeFilters,
  DEFAULT_THING_NAME_PREFIX,
  fleetProvisioningTemplate,
  TemplateName,
} from "@medusa/domain";
import { Aws, Duration, type RemovalPolicy, Stack } from "aws-cdk-lib";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import * as iot from "aws-cdk-lib/aws-iot";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { Schema } from "effect";
import type { Stage } from "./settings.js";

/** The fleet provisioning template's name: one topic level (`$aws/provisioning-templates/{name}/…`). */
export const provisioningTemplateName = (stage: Stage): TemplateName =>
  Schema.decodeSync(TemplateName)(`medusa-${stage}-fleet`);

/** The claim certificates' IoT policy. */
export const claimPolicyName = (stage: Stage): string => `medusa-${stage}-claim`;

/**
 * The claim policy for the CSR flow: connect as `provision-…` only, publish
 * the two requests, subscribe to and receive the four answers — nothing else
 * (https://docs.aws.amazon.com/iot/latest/developerguide/provision-wo-cert.html;
 * the SDK's CSR sample lists these topics). A claim certificate is attached
 * to no thing, so the thing-name policy variables cannot bind it.
 */
export const claimPolicyDocument = (template: TemplateName, arnBase: string) => {
  const topic = (t: string) => `${arnBase}:topic/${t}`;
  const filter = (t: string) => `${arnBase}:topicfilter/${t}`;
  const answers = claimSubscribeFilters([template]);
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Action: ["iot:Connect"],
        Resource: [`${arnBase}:client/${CLAIM_CLIENT_ID_PREFIX}*`],
      },
      {
        Effect: "Allow",
        Action: ["iot:Publish"],
        Resource: claimPublishTopics([template]).map(topic),
      },
      { Effect: "Allow", Action: ["iot:Receive"], Resource: answers.map(topic) },
      { Effect: "Allow", Action: ["iot:Subscribe"], Resource: answers.map(filter) },
    ],
  };
};

/**
 * The provisioning role's rights: of what the AWS managed policy
 * `AWSIoTThingsRegistration` grants on every resource, the part MeDUSA Link's
 * template (`fleetProvisioningTemplate`) uses — create or update (attributes
 * merged) the thing `medusa-<serial>` and attach the certificate to it;
 * activate the new certificate; attach the device policies to it — each on the
 * resources it touches: things named with the template's prefix, certificates,
 * and the device policies. No thing groups, billing groups, policy creation or
 * detaching. `iotArn` makes `arn:…:iot:<region>:<account>:<resource>`.
 */
export const provisioningRolePolicy = (
  iotArn: (resource: string) => string,
  devicePolicyNames: ReadonlyArray<string>,
  thingNamePrefix: string = DEFAULT_THING_NAME_PREFIX,
): iam.PolicyDocument => {
  const things = iotArn(`thing/${thingNamePrefix}*`);
  const certificates = iotArn("cert/*");
  return new iam.PolicyDocument({
    statements: [
      new iam.PolicyStatement({
        sid: "Things",
        actions: [
          "iot:CreateThing",
          "iot:DescribeThing",
          "iot:UpdateThing",
          "iot:ListThingPrincipals",
        ],
        resources: [things],
      }),
      new iam.PolicyStatement({
        sid: "CertificateToThing",
        actions: ["iot:AttachThingPrincipal"],
        // IAM's reference names the thing, the IoT guide's table the certificate: both, no more.
        resources: [things, certificates],
      }),
      new iam.PolicyStatement({
        sid: "Certificates",
        actions: [
          "iot:DescribeCertificate",
          "iot:UpdateCertificate",
          "iot:AttachPolicy",
          "iot:AttachPrincipalPolicy",
          "iot:ListAttachedPolicies",
          "iot:ListPrincipalPolicies",
          "iot:ListPrincipalThings",
        ],
        resources: [certificates],
      }),
      new iam.PolicyStatement({
        sid: "DevicePolicies",
        actions: ["iot:GetPolicy"],
        resources: devicePolicyNames.map((name) => iotArn(`policy/${name}`)),
      }),
    ],
  });
};

export interface FleetProvisioningProps {
  readonly stage: Stage;
  /** The policies every device certificate gets (the template attaches them by name). */
  readonly devicePolicyNames: ReadonlyArray<string>;
  readonly allowList: Pick<dynamodb.ITable, "tableArn" | "tableName">;
  /** The tables' customer-managed key, when they have one (the hook decrypts to read). */
  readonly tableKey?: kms.IKey;
  /** `@medusa/lambda`'s `provisioning` bundle. */
  readonly hookCode: lambda.Code;
  readonly runtime: lambda.Runtime;
  readonly removalPolicy: RemovalPolicy;
  readonly logRetention: logs.RetentionDays;
}

/**
 * Fleet provisioning by claim on AWS: the provisioning template (CSR flow,
 * `fleetProvisioningTemplate` from the domain, the same body the local
 * broker applies), its role, the pre-provisioning hook function over the
 * allow-list table, and the claim policy. The claim certificate itself is
 * made per production batch, outside the stack (docs/deploy.md).
 */
export class FleetProvisioning extends Construct {
  readonly templateName: TemplateName;
  readonly hook: lambda.Function;
  readonly template: iot.CfnProvisioningTemplate;
  readonly claimPolicy: iot.CfnPolicy;

  constructor(scope: Construct, id: string, props: FleetProvisioningProps) {
    super(scope, id);
    const { stage } = props;
    this.templateName = provisioningTemplateName(stage);
    const functionName = `medusa-${stage}-provisioning-hook`;
    const logGroup = new logs.LogGroup(this, "HookLogs", {
      logGroupName: `/aws/lambda/${functionName}`,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    const hookRole = new iam.Role(this, "HookRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: `${functionName}: its own log group and one GetItem on the allow-list`,
    });
    hookRole.addToPolicy(
      new iam.PolicyStatement({
        sid: "OwnLogGroup",
        actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
        resources: [logGroup.logGroupArn],
      }),
    );
    hookRole.addToPolicy(
      new iam.PolicyStatement({
        sid: "AllowListTable",
        actions: ["dynamodb:GetItem"],
        resources: [props.allowList.tableArn],
      }),
    );
    if (props.tableKey)
      hookRole.addToPolicy(
        new iam.PolicyStatement({
          sid: "TableKey",
          actions: ["kms:Decrypt"],
          resources: [props.tableKey.keyArn],
        }),
      );
    this.hook = new lambda.Function(this, "Hook", {
      functionName,
      description: "Pre-provisioning hook: allow only serial numbers on the allow-list",
      code: props.hookCode,
      handler: "provisioning.handler",
      runtime: props.runtime,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      // AWS IoT waits 5 s for the hook; the function must answer before that.
      timeout: Duration.seconds(4),
      role: hookRole,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      environment: { MEDUSA_ALLOW_LIST_TABLE: props.allowList.tableName },
    });

    // AWS's AWSIoTThingsRegistration grants these and more on "*"; the template needs only
    // these, on its own things, the certificates it activates and the device policies it attaches.
    const provisioningRole = new iam.Role(this, "TemplateRole", {
      assumedBy: new iam.ServicePrincipal("iot.amazonaws.com"),
      description: `${this.templateName}: registers the things and certificates the template makes`,
      inlinePolicies: {
        Registration: provisioningRolePolicy(
          (resource) => Stack.of(this).formatArn({ service: "iot", resource }),
          props.devicePolicyNames,
        ),
      },
    });
    const templateArn = Stack.of(this).formatArn({
      service: "iot",
      resource: "provisioningtemplate",
      resourceName: this.templateName,
    });
    const permission = new lambda.CfnPermission(this, "InvokedByTemplate", {
      action: "lambda:InvokeFunction",
      functionName: this.hook.functionArn,
      principal: "iot.amazonaws.com",
      sourceArn: templateArn,
      sourceAccount: Aws.ACCOUNT_ID,
    });
    this.template = new iot.CfnProvisioningTemplate(this, "Template", {
      templateName: this.templateName,
      description: "MeDUSA Link devices by claim: thing medusa-<serial>, the device policies",
      enabled: true,
      templateType: "FLEET_PROVISIONING",
      provisioningRoleArn: provisioningRole.roleArn,
      templateBody: JSON.stringify(
        fleetProvisioningTemplate({ devicePolicyNames: props.devicePolicyNames }),
      ),
      preProvisioningHook: { targetArn: this.hook.functionArn, payloadVersion: "2020-04-01" },
    });
    // AWS IoT checks it may invoke the hook when the template is created.
    this.template.node.addDependency(permission);

    this.claimPolicy = new iot.CfnPolicy(this, "ClaimPolicy", {
      policyName: claimPolicyName(stage),
      policyDocument: claimPolicyDocument(
        this.templateName,
        `arn:${Aws.PARTITION}:iot:${Aws.REGION}:${Aws.ACCOUNT_ID}`,
      ),
    });
  }
}
