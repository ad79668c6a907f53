import {
  certificateRotationTemplate,
  rotationTemplateName,
  type TemplateName,
} from "@medusa/domain";
import { type RemovalPolicy, Stack } from "aws-cdk-lib";
import type * as iot from "aws-cdk-lib/aws-iot";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { provisioningRolePolicy, templateWithHook } from "./provisioning.js";
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
    const made = templateWithHook(this, {
      templateName: this.templateName,
      description: "MeDUSA Link certificate rotation: a new certificate for the device's own thing",
      body: certificateRotationTemplate({ devicePolicyNames: props.devicePolicyNames }),
      // The fleet template's rights (a twin of its role), on every thing: a device registered
      // with medusa-register-device may have any thing name, and the hook admits only the
      // caller's own.
      roleDescription: `${this.templateName}: attaches a device's new certificate to its thing and activates it`,
      rolePolicy: provisioningRolePolicy(
        (resource) => Stack.of(this).formatArn({ service: "iot", resource }),
        props.devicePolicyNames,
        "",
      ),
      hook: {
        functionName: `medusa-${stage}-rotation-hook`,
        description:
          "Certificate rotation's pre-provisioning hook: a device rotates only its own thing's certificate",
        roleDescription: "its own log group, nothing else",
        statements: [],
        code: props.hookCode,
        handler: "rotation-hook.handler",
        runtime: props.runtime,
        // No I/O: the least memory Lambda gives.
        memorySize: 128,
        removalPolicy: props.removalPolicy,
        logRetention: props.logRetention,
      },
    });
    this.hook = made.hook;
    this.template = made.template;
  }
}
