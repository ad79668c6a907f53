import { describe, expect, it } from "vitest";
import {
  certificateRotationTemplate,
  certificatesToRetire,
  decideRotation,
  isRotationTemplate,
} from "./rotation.js";
import { applyProvisioningTemplate } from "./template.js";

const request = (clientId: string, parameters: Record<string, string>) => ({
  claimCertificateId: "a".repeat(64),
  certificateId: "b".repeat(64),
  certificatePem: "",
  templateArn: "arn:aws:iot:local:0:provisioningtemplate/medusa-dev-rotation",
  clientId,
  parameters,
});

describe("certificate rotation", () => {
  it("the template attaches the new certificate, active, with the device policy, to the named thing", () => {
    const outcome = applyProvisioningTemplate(
      certificateRotationTemplate({
        devicePolicyNames: [
          "medusa-dev-device",
          "medusa-dev-device-shadow",
          "medusa-dev-device-jobs",
        ],
      }),
      { ThingName: "pi-1" },
      "c".repeat(64),
    );
    expect(outcome).toMatchObject({
      _tag: "Right",
      right: {
        thing: { thingName: "pi-1", attributes: {} },
        certificateStatus: "ACTIVE",
        policyNames: ["medusa-dev-device", "medusa-dev-device-shadow", "medusa-dev-device-jobs"],
      },
    });
  });

  it("the hook lets a device name only its own thing", () => {
    expect(decideRotation(request("pi-1", { ThingName: "pi-1" }))).toEqual({
      allow: true,
      thingName: "pi-1",
    });
    expect(decideRotation(request("pi-2", { ThingName: "pi-1" }))).toMatchObject({
      allow: false,
    });
    expect(decideRotation(request("pi-1", {}))).toMatchObject({ allow: false });
    expect(decideRotation(request("pi 1", { ThingName: "pi 1" }))).toMatchObject({
      allow: false,
    });
  });

  it("retires the thing's other ACTIVE certificates, only when the reported one is attached and ACTIVE", () => {
    const attached = [
      { certificateId: "old", status: "ACTIVE" },
      { certificateId: "older", status: "INACTIVE" },
      { certificateId: "new", status: "ACTIVE" },
    ];
    expect(certificatesToRetire({ certificate_id: "new" }, attached)).toEqual({ retire: ["old"] });
    expect(certificatesToRetire({ certificate_id: "elsewhere" }, attached)).toHaveProperty(
      "refused",
    );
    expect(certificatesToRetire({ certificate_id: "older" }, attached)).toHaveProperty("refused");
    expect(certificatesToRetire(undefined, attached)).toHaveProperty("refused");
  });

  it("rotation templates are named …-rotation", () => {
    expect(isRotationTemplate("medusa-dev-rotation")).toBe(true);
    expect(isRotationTemplate("medusa-dev-fleet")).toBe(false);
  });
});
