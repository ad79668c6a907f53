import { randomBytes } from "node:crypto";
import { type DeviceId, deviceId } from "@medusa/domain";
import type { CertificateRegistry } from "../broker/certificate-registry.js";

/**
 * A new thing (a name of this run) in the certificate registry with one
 * certificate per status given, each issued and then registered to it, as
 * fleet provisioning leaves them; the certificates' ids in the same order.
 */
export const registeredThing = (
  registry: CertificateRegistry,
  statuses: ReadonlyArray<"ACTIVE" | "INACTIVE">,
): { readonly thing: DeviceId; readonly ids: ReadonlyArray<string> } => {
  const thing = deviceId(`medusa-${randomBytes(6).toString("hex")}`);
  const ids = statuses.map((status) => {
    const certificateId = randomBytes(32).toString("hex");
    registry.addPendingCertificate({
      certificateId,
      certificatePem: "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n",
      ownershipToken: randomBytes(16).toString("hex"),
      tokenExpiresAt: Date.now() + 3_600_000,
      createdAt: Date.now(),
    });
    registry.registerThing({
      certificateId,
      thingName: thing,
      attributes: {},
      status,
      policyNames: [],
      deviceConfiguration: {},
      now: Date.now(),
    });
    return certificateId;
  });
  return { thing, ids };
};
