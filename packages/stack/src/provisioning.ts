import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  type CertificateRegistry,
  certificateIdOfPem,
  type DevCa,
  type FleetProvisioning,
  type LocalBroker,
  type RegisteredPrincipal,
  rotationPreProvisioningHook,
  startCertificateRetirement,
  startFleetProvisioning,
} from "@medusa/adapters/broker";
import {
  type AllowList,
  certificateRotationTemplate,
  fleetProvisioningTemplate,
  TemplateName,
} from "@medusa/domain";
import { preProvisioningHandler } from "@medusa/lambda";
import { type Layer, Schema } from "effect";
import type { StackLog } from "./log.js";

/**
 * The local stack's fleet provisioning template, named as the CDK app names a
 * stage's (`medusa-<stage>-fleet`): devices flashed for the local stack send
 * RegisterThing to `$aws/provisioning-templates/medusa-local-fleet/provision/json`.
 */
export const LOCAL_TEMPLATE_NAME: TemplateName =
  Schema.decodeSync(TemplateName)("medusa-local-fleet");

/**
 * The device policies the template attaches (the broker's device rights, which
 * it enforces from `@medusa/domain`'s topic rights whatever the names), named
 * as the CDK app's three (`devicePolicyNames` of `@medusa/infra`).
 */
export const LOCAL_DEVICE_POLICIES: ReadonlyArray<string> = [
  "medusa-local-device",
  "medusa-local-device-shadow",
  "medusa-local-device-jobs",
];

/**
 * The local stack's certificate rotation template (`medusa-<stage>-rotation`,
 * as the CDK app names it): a `certificate.rotate` job names it.
 */
export const LOCAL_ROTATION_TEMPLATE_NAME: TemplateName =
  Schema.decodeSync(TemplateName)("medusa-local-rotation");

/**
 * Where the claim certificates of the local stack's batches are kept
 * (`{batch}.cert.pem`, `{batch}.key.pem`): what `issue-claim` made, and what
 * the broker holds to the claim policy, whether the stack was running when
 * it was made or not.
 */
export const claimsDir = (dir: string) => join(dir, "claims");

/**
 * Who a client certificate is, for the broker: what the registry knows, and
 * the claim certificates `issue-claim` put in `claims` (registered to the claim
 * policy on first sight, so one issued while the stack runs works at once,
 * as a claim certificate made and attached in AWS does). The folder is read
 * again only when it changed.
 */
export const registryPrincipals = (
  registry: CertificateRegistry,
  claims: string,
  templates: ReadonlyArray<TemplateName>,
  log: StackLog,
): ((certificateDer: Buffer) => RegisteredPrincipal | undefined) => {
  let seen = -1;
  const scan = () => {
    if (!existsSync(claims)) return;
    const mtime = statSync(claims).mtimeMs;
    if (mtime === seen) return;
    seen = mtime;
    for (const name of readdirSync(claims)) {
      if (!name.endsWith(".cert.pem")) continue;
      try {
        const pem = readFileSync(join(claims, name), "utf8");
        const existing = registry.certificate(certificateIdOfPem(pem));
        if (existing?.role === "claim") continue;
        const id = registry.registerClaimCertificate(pem, templates);
        log({
          level: "info",
          msg: "claim certificate registered",
          file: name,
          certificate_id: id,
        });
      } catch (e) {
        log({ level: "warn", msg: "claim certificate not readable", file: name, error: String(e) });
      }
    }
  };
  scan();
  return (der) => {
    const known = registry.principalOf(der);
    if (known !== undefined) return known;
    scan();
    return registry.principalOf(der);
  };
};

export interface StackProvisioningOptions {
  readonly broker: LocalBroker;
  readonly ca: DevCa;
  readonly registry: CertificateRegistry;
  /** The allow-list the pre-provisioning hook reads (DynamoDB Local's table in the stack). */
  readonly allowList: Layer.Layer<AllowList>;
  readonly log: StackLog;
}

/**
 * AWS IoT fleet provisioning by claim on the stack's broker: the template
 * the CDK app deploys (`fleetProvisioningTemplate`, thing `medusa-<serial>`,
 * the device policies), and its pre-provisioning hook, the Lambda handler's own
 * code (`preProvisioningHandler`) over the allow-list table.
 */
export const startStackProvisioning = (options: StackProvisioningOptions): FleetProvisioning => {
  const { log } = options;
  const hook = preProvisioningHandler(options.allowList, (line) => {
    // The handler logs JSON lines, as in Lambda; the stack's log takes them as entries.
    try {
      log({ component: "provisioning-hook", ...(JSON.parse(line) as Record<string, unknown>) });
    } catch {
      log({ component: "provisioning-hook", level: "info", msg: line });
    }
  });
  return startFleetProvisioning(options.broker, {
    ca: options.ca,
    registry: options.registry,
    templates: {
      [LOCAL_TEMPLATE_NAME]: {
        body: fleetProvisioningTemplate({ devicePolicyNames: LOCAL_DEVICE_POLICIES }),
        preProvisioningHook: hook,
      },
      [LOCAL_ROTATION_TEMPLATE_NAME]: {
        body: certificateRotationTemplate({ devicePolicyNames: LOCAL_DEVICE_POLICIES }),
        preProvisioningHook: rotationPreProvisioningHook((entry) =>
          log({ component: "rotation-hook", ...entry }),
        ),
      },
    },
    region: "local",
    log: (entry) => log({ component: "provisioning", ...entry }),
  });
};

/**
 * The cloud half of `certificate.rotate` on the stack: on a rotation's
 * SUCCEEDED Jobs event, the thing's other certificates are deactivated (what
 * the IoT rule and its Lambda function do in AWS).
 */
export const startStackCertificateRetirement = (options: {
  readonly broker: LocalBroker;
  readonly registry: CertificateRegistry;
  readonly log: StackLog;
}) =>
  startCertificateRetirement(options.broker, {
    registry: options.registry,
    operationOf: (jobId) => {
      const job = options.broker.jobs?.describeJob(jobId);
      return job?.ok ? String(job.value.document.operation) : undefined;
    },
    log: (entry) => options.log({ component: "certificate-rotation", ...entry }),
  });
