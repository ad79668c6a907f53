import { fleetProvisioningTemplate } from "@medusa/domain";
import { App, RemovalPolicy, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import { beforeAll, describe, expect, it } from "vitest";
import { claimPolicyName, FleetProvisioning, provisioningTemplateName } from "./provisioning.js";

const DEVICE_POLICIES = ["medusa-dev-device", "medusa-dev-device-shadow", "medusa-dev-device-jobs"];
let template: Template;
beforeAll(() => {
  const stack = new Stack(new App(), "Test", {
    env: { account: "123456789012", region: "eu-central-1" },
  });
  const allowList = new dynamodb.Table(stack, "AllowList", {
    partitionKey: { name: "serial_number", type: dynamodb.AttributeType.STRING },
  });
  new FleetProvisioning(stack, "Provisioning", {
    stage: "dev",
    devicePolicyNames: DEVICE_POLICIES,
    allowList,
    hookCode: lambda.Code.fromInline("export const handler = async () => ({});"),
    runtime: lambda.Runtime.NODEJS_24_X,
    removalPolicy: RemovalPolicy.DESTROY,
    logRetention: logs.RetentionDays.ONE_MONTH,
  });
  template = Template.fromStack(stack);
}, 180_000);

const one = (type: string) => {
  const found = Object.values(template.findResources(type));
  expect(found, type).toHaveLength(1);
  return found[0] as { Properties: Record<string, unknown> };
};

describe("fleet provisioning on AWS", () => {
  it("a CSR-flow template with the domain's body, its registration role and the hook at payload version 2020-04-01", () => {
    const t = one("AWS::IoT::ProvisioningTemplate").Properties;
    expect(t.TemplateName).toBe(provisioningTemplateName("dev"));
    expect(t.TemplateType).toBe("FLEET_PROVISIONING");
    expect(t.Enabled).toBe(true);
    expect(JSON.parse(t.TemplateBody as string)).toEqual(
      fleetProvisioningTemplate({ devicePolicyNames: DEVICE_POLICIES }),
    );
    expect(t.PreProvisioningHook).toEqual({
      TargetArn: { "Fn::GetAtt": [expect.stringMatching(/^ProvisioningHook/), "Arn"] },
      PayloadVersion: "2020-04-01",
    });
    const roles = template.findResources("AWS::IAM::Role", {
      Properties: {
        AssumeRolePolicyDocument: Match.objectLike({
          Statement: [Match.objectLike({ Principal: { Service: "iot.amazonaws.com" } })],
        }),
      },
    });
    const [role] = Object.values(roles) as Array<{ Properties: Record<string, unknown> }>;
    expect(Object.keys(roles)).toHaveLength(1);
    // No managed policy (AWSIoTThingsRegistration grants its actions on "*"): an inline one.
    expect(role?.Properties.ManagedPolicyArns).toBeUndefined();
    const [inline] = (role?.Properties.Policies ?? []) as Array<{
      PolicyDocument: { Statement: Array<{ Sid: string; Action: unknown; Resource: unknown }> };
    }>;
    const flat = (v: unknown): string =>
      typeof v === "string"
        ? v
        : Array.isArray(v)
          ? v.map(flat).join(",")
          : v && typeof v === "object" && "Fn::Join" in v
            ? ((v as { "Fn::Join": [string, Array<unknown>] })["Fn::Join"][1] as Array<unknown>)
                .map((x) => (typeof x === "string" ? x : "·"))
                .join("")
            : "·";
    const statements = inline?.PolicyDocument.Statement ?? [];
    const byResource = Object.fromEntries(
      statements.map((st) => [st.Sid, { actions: st.Action, resources: flat(st.Resource) }]),
    );
    expect(byResource).toEqual({
      Things: {
        actions: [
          "iot:CreateThing",
          "iot:DescribeThing",
          "iot:UpdateThing",
          "iot:ListThingPrincipals",
        ],
        resources: "arn:·:iot:eu-central-1:123456789012:thing/medusa-*",
      },
      CertificateToThing: {
        actions: "iot:AttachThingPrincipal",
        resources:
          "arn:·:iot:eu-central-1:123456789012:thing/medusa-*,arn:·:iot:eu-central-1:123456789012:cert/*",
      },
      Certificates: {
        actions: [
          "iot:DescribeCertificate",
          "iot:UpdateCertificate",
          "iot:AttachPolicy",
          "iot:AttachPrincipalPolicy",
          "iot:ListAttachedPolicies",
          "iot:ListPrincipalPolicies",
          "iot:ListPrincipalThings",
        ],
        resources: "arn:·:iot:eu-central-1:123456789012:cert/*",
      },
      DevicePolicies: {
        actions: "iot:GetPolicy",
        resources: DEVICE_POLICIES.map(
          (name) => `arn:·:iot:eu-central-1:123456789012:policy/${name}`,
        ).join(","),
      },
    });
    // Nothing on "*", nothing that makes policies or groups.
    for (const st of statements) expect(flat(st.Resource)).not.toBe("*");
    expect(JSON.stringify(statements)).not.toMatch(/CreatePolicy|ThingGroup|BillingGroup|Detach/);
  });

  it("the hook answers within AWS IoT's 5 s, may only read the allow-list, and only this template may invoke it", () => {
    const fn = one("AWS::Lambda::Function").Properties;
    expect(fn.Timeout).toBeLessThan(5);
    expect(fn.Handler).toBe("provisioning.handler");
    expect(fn.Environment).toEqual({
      Variables: { MEDUSA_ALLOW_LIST_TABLE: { Ref: expect.stringMatching(/^AllowList/) } },
    });
    const policies = Object.values(template.findResources("AWS::IAM::Policy"));
    const statements = policies.flatMap(
      (p) =>
        (
          p as {
            Properties: { PolicyDocument: { Statement: Array<{ Sid: string; Action: unknown }> } };
          }
        ).Properties.PolicyDocument.Statement,
    );
    expect(statements.map((s) => [s.Sid, s.Action])).toEqual([
      ["OwnLogGroup", ["logs:CreateLogStream", "logs:PutLogEvents"]],
      ["AllowListTable", "dynamodb:GetItem"],
    ]);
    const permission = one("AWS::Lambda::Permission").Properties;
    expect(permission).toMatchObject({
      Principal: "iot.amazonaws.com",
      SourceAccount: { Ref: "AWS::AccountId" },
      SourceArn: {
        "Fn::Join": [
          "",
          expect.arrayContaining([
            `:iot:eu-central-1:123456789012:provisioningtemplate/${provisioningTemplateName("dev")}`,
          ]),
        ],
      },
    });
  });

  it("the claim policy: connect as provision-*, publish the two requests, subscribe to and receive the four answers, nothing else", () => {
    const p = one("AWS::IoT::Policy").Properties;
    expect(p.PolicyName).toBe(claimPolicyName("dev"));
    const doc = JSON.parse(
      JSON.stringify(p.PolicyDocument).replace(
        /\{"Fn::Join":\["",\[(.*?)\]\]\}/g,
        (_, parts: string) =>
          JSON.stringify(
            (JSON.parse(`[${parts}]`) as Array<unknown>)
              .map((x) => (typeof x === "string" ? x : "ARN"))
              .join(""),
          ),
      ),
    ) as { Statement: Array<{ Action: Array<string>; Resource: Array<string> }> };
    const T = provisioningTemplateName("dev");
    expect(doc.Statement.map((s) => [s.Action, s.Resource])).toEqual([
      [["iot:Connect"], ["arn:ARN:iot:ARN:ARN:client/provision-*"]],
      [
        ["iot:Publish"],
        [
          "arn:ARN:iot:ARN:ARN:topic/$aws/certificates/create-from-csr/json",
          `arn:ARN:iot:ARN:ARN:topic/$aws/provisioning-templates/${T}/provision/json`,
        ],
      ],
      [
        ["iot:Receive"],
        [
          "arn:ARN:iot:ARN:ARN:topic/$aws/certificates/create-from-csr/json/accepted",
          "arn:ARN:iot:ARN:ARN:topic/$aws/certificates/create-from-csr/json/rejected",
          `arn:ARN:iot:ARN:ARN:topic/$aws/provisioning-templates/${T}/provision/json/accepted`,
          `arn:ARN:iot:ARN:ARN:topic/$aws/provisioning-templates/${T}/provision/json/rejected`,
        ],
      ],
      [
        ["iot:Subscribe"],
        [
          "arn:ARN:iot:ARN:ARN:topicfilter/$aws/certificates/create-from-csr/json/accepted",
          "arn:ARN:iot:ARN:ARN:topicfilter/$aws/certificates/create-from-csr/json/rejected",
          `arn:ARN:iot:ARN:ARN:topicfilter/$aws/provisioning-templates/${T}/provision/json/accepted`,
          `arn:ARN:iot:ARN:ARN:topicfilter/$aws/provisioning-templates/${T}/provision/json/rejected`,
        ],
      ],
    ]);
  });
});
