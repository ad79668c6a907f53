import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AttachPolicyCommand,
  type AttachPolicyCommandInput,
  CreateKeysAndCertificateCommand,
  type CreateKeysAndCertificateCommandInput,
  DeleteCertificateCommand,
  type DeleteCertificateCommandInput,
  DescribeEndpointCommand,
  DetachPolicyCommand,
  type DetachPolicyCommandInput,
  GetPolicyCommand,
  type GetPolicyCommandInput,
  IoTClient,
  ResourceNotFoundException,
  UpdateCertificateCommand,
  type UpdateCertificateCommandInput,
} from "@aws-sdk/client-iot";
import { mockClient } from "aws-sdk-client-mock";
import { Either } from "effect";
import { afterEach, beforeEach, expect, it } from "vitest";
// The agent's own parser: the [provisioning] table written must load on the device.
import { parseConfig } from "../../../device/src/config.js";
import { claimPolicyName, provisioningTemplateName } from "../provisioning.js";
import { ClaimCertificateFailed, claimFiles, createClaimCertificate } from "./claim-certificate.js";
import { parseCommandLine } from "./cli.js";

const ENDPOINT = "a1b2c3d4e5f6g7-ats.iot.eu-central-1.amazonaws.com";
const POLICY = claimPolicyName("dev");
const TEMPLATE = provisioningTemplateName("dev");
const KEY = "-----BEGIN RSA PRIVATE KEY-----\nsecret\n-----END RSA PRIVATE KEY-----\n";

/** AWS IoT as the command sees it: certificates with status and policies; refuses what IoT refuses. */
class FakeIot {
  readonly certificates = new Map<string, { status: string; policies: Set<string> }>();
  readonly calls: Array<string> = [];
  failAt: string | undefined;
  private next = 1;
  constructor(readonly client: IoTClient) {
    const mock = mockClient(client);
    const notFound = (what: string) =>
      new ResourceNotFoundException({ message: `${what} not found`, $metadata: {} });
    const guard =
      <I, O>(name: string, f: (input: I) => O) =>
      async (input: I): Promise<O> => {
        this.calls.push(name);
        if (this.failAt === name) {
          // Once: the undo may call the same command again.
          this.failAt = undefined;
          throw Object.assign(new Error(`injected at ${name}`), { name: "ThrottlingException" });
        }
        return f(input);
      };
    const cert = (id: string) => {
      const c = this.certificates.get(id);
      if (!c) throw notFound(`certificate ${id}`);
      return c;
    };
    const idOf = (arn: string | undefined) => (arn ?? "").split("/").pop() ?? "";
    mock
      .on(DescribeEndpointCommand)
      .callsFake(guard("DescribeEndpoint", () => ({ endpointAddress: ENDPOINT })));
    mock.on(GetPolicyCommand).callsFake(
      guard("GetPolicy", (i: GetPolicyCommandInput) => {
        if (i.policyName !== POLICY) throw notFound(`policy ${i.policyName}`);
        return { policyName: i.policyName };
      }),
    );
    mock.on(CreateKeysAndCertificateCommand).callsFake(
      guard("CreateKeysAndCertificate", (i: CreateKeysAndCertificateCommandInput) => {
        const id = `c${this.next++}`.padEnd(64, "0");
        this.certificates.set(id, {
          status: i.setAsActive ? "ACTIVE" : "INACTIVE",
          policies: new Set(),
        });
        return {
          certificateId: id,
          certificateArn: `arn:aws:iot:eu-central-1:123456789012:cert/${id}`,
          certificatePem: `-----BEGIN CERTIFICATE-----\n${id}\n-----END CERTIFICATE-----\n`,
          keyPair: { PrivateKey: KEY, PublicKey: "pub" },
        };
      }),
    );
    mock.on(AttachPolicyCommand).callsFake(
      guard("AttachPolicy", (i: AttachPolicyCommandInput) => {
        cert(idOf(i.target)).policies.add(i.policyName ?? "");
        return {};
      }),
    );
    mock.on(DetachPolicyCommand).callsFake(
      guard("DetachPolicy", (i: DetachPolicyCommandInput) => {
        cert(idOf(i.target)).policies.delete(i.policyName ?? "");
        return {};
      }),
    );
    mock.on(UpdateCertificateCommand).callsFake(
      guard("UpdateCertificate", (i: UpdateCertificateCommandInput) => {
        cert(i.certificateId ?? "").status = i.newStatus ?? "";
        return {};
      }),
    );
    mock.on(DeleteCertificateCommand).callsFake(
      guard("DeleteCertificate", (i: DeleteCertificateCommandInput) => {
        const c = cert(i.certificateId ?? "");
        // As IoT: an active certificate, or one with a policy attached, cannot be deleted.
        if (c.status === "ACTIVE" || c.policies.size > 0)
          throw Object.assign(new Error("certificate in use"), { name: "DeleteConflictException" });
        this.certificates.delete(i.certificateId ?? "");
        return {};
      }),
    );
  }
}

let dir: string;
let iot: FakeIot;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "medusa-claim-"));
  iot = new FakeIot(new IoTClient({ region: "eu-central-1" }));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const options = (out = join(dir, "claim")) => ({
  batch: "2026-11-a",
  policyName: POLICY,
  templateName: TEMPLATE,
  outDir: out,
});

it("creates the batch's certificate inactive, attaches the claim policy, writes the key 0600 and the [provisioning] table, then activates it", async () => {
  const made = await createClaimCertificate(iot.client, options());
  expect(iot.calls).toEqual([
    "DescribeEndpoint",
    "GetPolicy",
    "CreateKeysAndCertificate",
    "AttachPolicy",
    "UpdateCertificate",
  ]);
  expect(iot.certificates.get(made.certificateId)).toEqual({
    status: "ACTIVE",
    policies: new Set([POLICY]),
  });
  const files = claimFiles("2026-11-a");
  const out = join(dir, "claim");
  expect(readdirSync(out).sort()).toEqual(Object.values(files).sort());
  expect(statSync(join(out, files.privateKey)).mode & 0o777).toBe(0o600);
  expect(statSync(out).mode & 0o777).toBe(0o700);
  expect(readFileSync(join(out, files.privateKey), "utf8")).toBe(KEY);
  // The snippet is the agent's own configuration once a thing is provisioned.
  const snippet = readFileSync(join(out, files.provisioning), "utf8");
  expect(snippet).toContain(made.certificateId);
  const config = parseConfig(snippet, "/etc/medusa/mqtt_publisher.toml", {
    env: {
      AWS_IOT_CLIENT_ID: "medusa-10000000c0ffee01",
      AWS_IOT_CERT_PATH: "/data/medusa/provisioning/device.pem.crt",
      AWS_IOT_KEY_PATH: "/data/medusa/provisioning/device.private.key",
    },
  });
  expect(Either.isRight(config), JSON.stringify(Either.isLeft(config) && config.left.message)).toBe(
    true,
  );
  expect(snippet).toContain(`template = "${TEMPLATE}"`);
  expect(snippet).toContain(`broker_host = "${ENDPOINT}"`);
});

it.each([
  ["AttachPolicy", ["DetachPolicy", "DeleteCertificate"]],
  ["UpdateCertificate", ["UpdateCertificate", "DetachPolicy", "DeleteCertificate"]],
])("a failure at %s undoes everything: no certificate, no files", async (step, undo) => {
  iot.failAt = step;
  const failed = await createClaimCertificate(iot.client, options()).catch((e: unknown) => e);
  expect(failed).toBeInstanceOf(ClaimCertificateFailed);
  expect(failed).toMatchObject({
    step: step === "UpdateCertificate" ? "UpdateCertificate ACTIVE" : step,
    leftover: [],
  });
  const at = iot.calls.indexOf(step);
  expect(iot.calls.slice(at + 1)).toEqual(undo);
  expect(iot.certificates.size).toBe(0);
  expect(existsSync(join(dir, "claim")) ? readdirSync(join(dir, "claim")) : []).toEqual([]);
});

it("refuses a stage whose stack is not deployed, and files already there, before creating anything", async () => {
  const missing = await createClaimCertificate(iot.client, {
    ...options(),
    policyName: "medusa-prod-claim",
  }).catch((e: unknown) => e);
  expect(String(missing)).toMatch(/no IoT policy medusa-prod-claim.*deploy the stack first/);
  await createClaimCertificate(iot.client, options());
  await expect(createClaimCertificate(iot.client, options())).rejects.toThrow(/already holds/);
  expect(iot.calls.filter((c) => c === "CreateKeysAndCertificate")).toHaveLength(1);
  await expect(
    createClaimCertificate(iot.client, { ...options(), batch: "../etc" }),
  ).rejects.toThrow(/1-64 characters/);
});

it("the command line: the stage's claim policy and template, --batch required", () => {
  const parsed = parseCommandLine(["--batch", "b7", "--stage", "prod", "--out", "/tmp/x"]);
  expect(parsed).toMatchObject({
    help: false,
    options: {
      batch: "b7",
      policyName: "medusa-prod-claim",
      templateName: "medusa-prod-fleet",
      outDir: "/tmp/x",
    },
  });
  expect(() => parseCommandLine([])).toThrow(/--batch is required/);
  expect(() => parseCommandLine(["--batch", "b", "--stage", "qa"])).toThrow(/--stage qa/);
});
