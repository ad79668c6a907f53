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

/** The hook function of a provisioning template (`templateWithHook`). */
export interface ProvisioningHookProps {
  readonly functionName: string;
  readonly description: string;
  /** What its role says it may do (its own log group and `statements`). */
  readonly roleDescription: string;
  readonly statements: ReadonlyArray<iam.PolicyStatement>;
  readonly code: lambda.Code;
  readonly handler: string;
  readonly runtime: lambda.Runtime;
  readonly memorySize: number;
  readonly environment?: Record<string, string>;
  readonly removalPolicy: RemovalPolicy;
  readonly logRetention: logs.RetentionDays;
}

/**
 * A provisioning template with its pre-provisioning hook, as AWS IoT wants
 * them (the fleet template and the rotation template alike): the hook
 * function with its own log group and role (AWS IoT waits 5 s for a hook, so
 * it times out at 4), the template's role, AWS IoT's permission to invoke the
 * hook from this template only, and the template, created after that
 * permission (AWS IoT checks it when the template is made). Its parts are
 * children of `scope` (HookLogs, HookRole, Hook, TemplateRole,
 * InvokedByTemplate, Template).
 */
export const templateWithHook = (
  scope: Construct,
  props: {
    readonly templateName: TemplateName;
    readonly description: string;
    readonly body: unknown;
    readonly roleDescription: string;
    readonly rolePolicy: iam.PolicyDocument;
    readonly hook: ProvisioningHookProps;
  },
): { readonly hook: lambda.Function; readonly template: iot.CfnProvisioningTemplate } => {
  const h = props.hook;
  const logGroup = new logs.LogGroup(scope, "HookLogs", {
    logGroupName: `/aws/lambda/${h.functionName}`,
    retention: h.logRetention,
    removalPolicy: h.removalPolicy,
  });
  const hookRole = new iam.Role(scope, "HookRole", {
    assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
    description: `${h.functionName}: ${h.roleDescription}`,
  });
  hookRole.addToPolicy(
    new iam.PolicyStatement({
      sid: "OwnLogGroup",
      actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
      resources: [logGroup.logGroupArn],
    }),
  );
  for (const statement of h.statements) hookRole.addToPolicy(statement);
  const hook = new lambda.Function(scope, "Hook", {
    functionName: h.functionName,
    description: h.description,
    code: h.code,
    handler: h.handler,
    runtime: h.runtime,
    architecture: lambda.Architecture.ARM_64,
    memorySize: h.memorySize,
    // AWS IoT waits 5 s for the hook; the function must answer before that.
    timeout: Duration.seconds(4),
    role: hookRole,
    logGroup,
    loggingFormat: lambda.LoggingFormat.JSON,
    applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
    ...(h.environment ? { environment: h.environment } : {}),
  });
  const provisioningRole = new iam.Role(scope, "TemplateRole", {
    assumedBy: new iam.ServicePrincipal("iot.amazonaws.com"),
    description: props.roleDescription,
    inlinePolicies: { Registration: props.rolePolicy },
  });
  const templateArn = Stack.of(scope).formatArn({
    service: "iot",
    resource: "provisioningtemplate",
    resourceName: props.templateName,
  });
  const permission = new lambda.CfnPermission(scope, "InvokedByTemplate", {
    action: "lambda:InvokeFunction",
    functionName: hook.functionArn,
    principal: "iot.amazonaws.com",
    sourceArn: templateArn,
    sourceAccount: Aws.ACCOUNT_ID,
  });
  const template = new iot.CfnProvisioningTemplate(scope, "Template", {
    templateName: props.templateName,
    description: props.description,
    enabled: true,
    templateType: "FLEET_PROVISIONING",
    provisioningRoleArn: provisioningRole.roleArn,
    templateBody: JSON.stringify(props.body),
    preProvisioningHook: { targetArn: hook.functionArn, payloadVersion: "2020-04-01" },
  });
  template.node.addDependency(permission);
  return { hook, template };
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
    const made = templateWithHook(this, {
      templateName: this.templateName,
      description: "MeDUSA Link devices by claim: thing medusa-<serial>, the device policies",
      body: fleetProvisioningTemplate({ devicePolicyNames: props.devicePolicyNames }),
      // AWS's AWSIoTThingsRegistration grants these and more on "*"; the template needs only
      // these, on its own things, the certificates it activates and the device policies it attaches.
      roleDescription: `${this.templateName}: registers the things and certificates the template makes`,
      rolePolicy: provisioningRolePolicy(
        (resource) => Stack.of(this).formatArn({ service: "iot", resource }),
        props.devicePolicyNames,
      ),
      hook: {
        functionName: `medusa-${stage}-provisioning-hook`,
        description: "Pre-provisioning hook: allow only serial numbers on the allow-list",
        roleDescription: "its own log group and one GetItem on the allow-list",
        statements: [
          new iam.PolicyStatement({
            sid: "AllowListTable",
            actions: ["dynamodb:GetItem"],
            resources: [props.allowList.tableArn],
          }),
          ...(props.tableKey
            ? [
                new iam.PolicyStatement({
                  sid: "TableKey",
                  actions: ["kms:Decrypt"],
                  resources: [props.tableKey.keyArn],
                }),
              ]
            : []),
        ],
        code: props.hookCode,
        handler: "provisioning.handler",
        runtime: props.runtime,
        memorySize: 256,
        environment: { MEDUSA_ALLOW_LIST_TABLE: props.allowList.tableName },
        removalPolicy: props.removalPolicy,
        logRetention: props.logRetention,
      },
    });
    this.hook = made.hook;
    this.template = made.template;

    this.claimPolicy = new iot.CfnPolicy(this, "ClaimPolicy", {
      policyName: claimPolicyName(stage),
      policyDocument: claimPolicyDocument(
        this.templateName,
        `arn:${Aws.PARTITION}:iot:${Aws.REGION}:${Aws.ACCOUNT_ID}`,
      ),
    });
  }
}
