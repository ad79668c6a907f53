import { statSync } from "node:fs";
import { join } from "node:path";
import { TemplateName } from "@medusa/domain";
import { Schema } from "effect";
import { describe, expect, it } from "vitest";
import { tempDirs } from "../testing/temp-dirs.js";
import { certificateIdOfPem, createCertificateRegistry } from "./certificate-registry.js";
import { createDevCa, issueDeviceCert } from "./dev-ca.js";

const dir = tempDirs("medusa-registry-");
const template = Schema.decodeSync(TemplateName)("medusa-fleet");

describe("the certificate registry", () => {
  it("keeps claim certificates, pending certificates and things across a restart, in an owner-only file", async () => {
    const file = join(dir(), "registry.json");
    const ca = await createDevCa();
    const claim = await issueDeviceCert(ca, "medusa-claim");
    const device = await issueDeviceCert(ca, "x");
    const first = createCertificateRegistry({ file });
    const claimId = first.registerClaimCertificate(claim.cert, [template]);
    const der = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64");
    const deviceId = certificateIdOfPem(device.cert);
    first.addPendingCertificate({
      certificateId: deviceId,
      certificatePem: device.cert,
      ownershipToken: "t",
      tokenExpiresAt: 2_000,
      createdAt: 1_000,
    });
    expect(first.principalOf(der(device.cert))).toEqual({
      kind: "refused",
      reason: `certificate ${deviceId} is PENDING_ACTIVATION`,
    });
    first.registerThing({
      certificateId: deviceId,
      thingName: "medusa-1",
      attributes: { serial_number: "1" },
      status: "ACTIVE",
      policyNames: ["p", "q"],
      deviceConfiguration: {},
      now: 1_500,
    });
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const second = createCertificateRegistry({ file });
    expect(second.principalOf(der(device.cert))).toEqual({ kind: "thing", thingName: "medusa-1" });
    const claimPrincipal = second.principalOf(der(claim.cert));
    expect(claimPrincipal?.kind).toBe("restricted");
    expect(second.certificate(claimId)?.templates).toEqual([template]);
    expect(second.certificate(deviceId)?.policyNames).toEqual(["p", "q"]);
    expect(second.certificateOfToken("t", 1_999)?.certificateId).toBe(deviceId);
    expect(second.certificateOfToken("t", 2_000)).toBeUndefined();
    // Registered certificates are never swept, however old their token.
    expect(second.sweep(10_000)).toBe(0);
    expect(second.things()).toEqual([
      {
        thingName: "medusa-1",
        attributes: { serial_number: "1" },
        createdAt: 1_500,
        principals: [deviceId],
      },
    ]);
  });
});
