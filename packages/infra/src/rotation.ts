import {
  certificateRotationTemplate,
  rotationTemplateName,
  type TemplateName,
} from "@medusa/domain";
import { Aws, Duration, type RemovalPolicy, Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as iot from "aws-cdk-lib/aws-iot";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { provisioningRolePolicy } from "./provisioning.js";
import type { Stage } from "./settings.js";

/** The stage's certificate rotation template: `medusa-<stage>-rotation` (the device policy's `*-rotation`). */
export const rotationTemplateNameOf = (stage: Stage): TemplateName =>
  rotationTemplateName(`medusa-${stage}`);

export interface CertificateRotationProps {
  readonly stage: Stage;
  /** The policies the new certificate gets (the template attaches them by name). */
  readonly devicePolicyNames: ReadonlyArray<string>;
  /** `@medusa/lambda`'s `rotation-hook` bundle. */
  readonly hookCode: lambda.Code;
  readonly runtime: lambda.Runtime;
  readonly removalPolicy: RemovalPolicy;
  readonly logRetention: logs.RetentionDays;
}

/**
 * Certificate rotation's provisioning template on AWS: `certificateRotationTemplate`
 * from the domain (the body the local broker applies), its role, and its
 * pre-provisioning hook (`decideRotation`: a device may attach a new
 * certificate to its own thing only). A connected device calls
 * `CreateCertificateFromCsr`, then `RegisterThing` with this template, during
 * a `certificate.rotate` job; the old certificate is retired after the job
 * SUCCEEDED (`certificate-retirement`, wired in the stack).
 */
export class CertificateRotation extends Construct {
  readonly templateName: TemplateName;
  readonly hook: lambda.Function;
  readonly template: iot.CfnProvisioningTemplate;

  constructor(scope: Construct, id: string, props: CertificateRotationProps) {
    super(scope, id);
    const { stage } = props;
    this.templateName = rotationTemplateNameOf(stage);
    const functionName = `medusa-${stage}-rotation-hook`;
    const logGroup = new logs.LogGroup(this, "HookLogs", {
      logGroupName: `/aws/lambda/${functionName}`,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    const hookRole = new iam.Role(this, "HookRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: `${functionName}: its own log group, nothing else`,
    });
    hookRole.addToPolicy(
      new iam.PolicyStatement({
        sid: "OwnLogGroup",
        actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
        resources: [logGroup.logGroupArn],
      }),
    );
    this.hook = new lambda.Function(this, "Hook", {
      functionName,
      description:
        "Certificate rotation's pre-provisioning hook: a device rotates only its own thing's certificate",
      code: props.hookCode,
      handler: "rotation-hook.handler",
      runtime: props.runtime,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 128,
      // AWS IoT waits 5 s for the hook; this one does no I/O.
      timeout: Duration.seconds(4),
      role: hookRole,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
    });

    // The fleet template's rights (a twin of its role), on every thing: a device registered
    // with medusa-register-device may have any thing name, and the hook admits only the
    // caller's own.
    const provisioningRole = new iam.Role(this, "TemplateRole", {
      assumedBy: new iam.ServicePrincipal("iot.amazonaws.com"),
      description: `${this.templateName}: attaches a device's new certificate to its thing and activates it`,
      inlinePolicies: {
        Registration: provisioningRolePolicy(
          (resource) => Stack.of(this).formatArn({ service: "iot", resource }),
          props.devicePolicyNames,
          "",
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
      description: "MeDUSA Link certificate rotation: a new certificate for the device's own thing",
      enabled: true,
      templateType: "FLEET_PROVISIONING",
      provisioningRoleArn: provisioningRole.roleArn,
      templateBody: JSON.stringify(
        certificateRotationTemplate({ devicePolicyNames: props.devicePolicyNames }),
      ),
      preProvisioningHook: { targetArn: this.hook.functionArn, payloadVersion: "2020-04-01" },
    });
    // AWS IoT checks it may invoke the hook when the template is created.
    this.template.node.addDependency(permission);
  }
}
