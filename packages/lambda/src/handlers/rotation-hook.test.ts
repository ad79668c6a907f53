import { describe, expect, it } from "vitest";
import { rotationHookHandler } from "./rotation-hook.js";

/** What AWS IoT sends the hook (pre-provisioning-hook.html, payload version 2020-04-01). */
const event = (clientId: string, parameters: Record<string, string>) => ({
  claimCertificateId: "a".repeat(64),
  certificateId: "b".repeat(64),
  certificatePem: "-----BEGIN CERTIFICATE-----\n…",
  templateArn: "arn:aws:iot:eu-central-1:123456789012:provisioningtemplate/medusa-dev-rotation",
  clientId,
  parameters,
});

describe("the rotation template's pre-provisioning hook", () => {
  const lines: Array<Record<string, unknown>> = [];
  const hook = rotationHookHandler((l) => lines.push(JSON.parse(l)));

  it("allows a device to add a certificate to its own thing", async () => {
    expect(
      await hook(event("medusa-10000000beef0001", { ThingName: "medusa-10000000beef0001" })),
    ).toEqual({ allowProvisioning: true });
    expect(lines.at(-1)).toMatchObject({ level: "info", thing: "medusa-10000000beef0001" });
  });

  it("refuses another thing, a claim certificate's client, no ThingName, and logs why", async () => {
    expect(
      await hook(event("medusa-10000000beef0001", { ThingName: "medusa-10000000beef0002" })),
    ).toEqual({ allowProvisioning: false });
    expect(lines.at(-1)).toMatchObject({ level: "warn", msg: "rotation refused" });
    expect(String(lines.at(-1)?.reason)).toContain("medusa-10000000beef0002");
    expect(
      await hook(event("provision-10000000beef0001", { ThingName: "medusa-10000000beef0001" })),
    ).toEqual({ allowProvisioning: false });
    expect(await hook(event("medusa-10000000beef0001", {}))).toEqual({
      allowProvisioning: false,
    });
    expect(String(lines.at(-1)?.reason)).toContain("no ThingName");
  });

  it("refuses a request it cannot read, with the reason logged", async () => {
    expect(await hook({ parameters: { ThingName: "x" } })).toEqual({ allowProvisioning: false });
    expect(lines.at(-1)).toMatchObject({ level: "warn" });
    expect(String(lines.at(-1)?.reason)).not.toBe("");
    expect(await hook("not json")).toEqual({ allowProvisioning: false });
  });

  it("answers well within AWS IoT's 5 s", async () => {
    const started = performance.now();
    for (let i = 0; i < 1000; i++)
      await hook(event("medusa-10000000beef0001", { ThingName: "medusa-10000000beef0001" }));
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
