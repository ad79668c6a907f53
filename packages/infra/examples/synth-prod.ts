import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildApp, bundleHandlers, devicePolicyName, TABLE_ACCESS } from "@medusa/infra";

const dir = mkdtempSync(join(tmpdir(), "medusa-infra-example-"));

// The Lambda bundles, built locally with @medusa/lambda's esbuild script (no Docker, no AWS).
const bundles = await bundleHandlers(join(dir, "bundles"));

// The production stack for a clinic whose devices publish under clinic-a/…,
// its API verifying HS256 tokens with a secret the stack generates in Secrets Manager.
const { app, stack } = buildApp({
  bundles,
  outdir: join(dir, "cdk.out"),
  context: { stage: "prod", topicPrefix: "clinic-a", jwtSecretName: "medusa/prod/jwt" },
});
const template = app.synth().getStackArtifact(stack.artifactId).template;

const resources = Object.values(template.Resources) as Array<{
  Type: string;
  Properties: Record<string, unknown>;
}>;
const rule = resources.find((r) => r.Type === "AWS::IoT::TopicRule");
assert.equal(
  (rule?.Properties.TopicRulePayload as { Sql: string } | undefined)?.Sql,
  "SELECT *, topic() AS topic, clientId() AS client_id, timestamp() AS received_at FROM 'clinic-a/+/sensor/data'",
);
assert.equal(stack.stackName, "MedusaLink-prod");
assert.equal(devicePolicyName("prod"), "medusa-prod-device");
// The ingest function may query the events, put samples and dead letters, and read and put
// the device's status row (its newest sample time); nothing else.
assert.deepEqual(
  TABLE_ACCESS.ingest.flatMap((g) => g.actions.map((a) => `${a} ${g.table}`)),
  [
    "dynamodb:Query events",
    "dynamodb:PutItem sensor",
    "dynamodb:PutItem deadLetters",
    "dynamodb:GetItem deviceStatuses",
    "dynamodb:PutItem deviceStatuses",
  ],
);

// The API function learns where the HS256 secret is, never the secret itself.
const api = resources.find((r) => r.Properties.FunctionName === "medusa-prod-api");
const apiEnv = (api?.Properties.Environment as { Variables: object } | undefined)?.Variables ?? {};
assert.ok("MEDUSA_JWT_SECRET_ARN" in apiEnv && !("MEDUSA_JWT_SECRET" in apiEnv));
// Production tables are encrypted with the stack's own key, rotated yearly.
assert.ok(resources.some((r) => r.Type === "AWS::KMS::Key" && r.Properties.EnableKeyRotation));

rmSync(dir, { recursive: true, force: true });
