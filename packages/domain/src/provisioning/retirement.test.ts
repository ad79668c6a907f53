import { Effect, Layer } from "effect";
import { describe, expect, it } from "vitest";
import { deviceId } from "../ids.js";
import { DeviceNotRegistered } from "../ports/device-jobs.js";
import { ThingCertificates } from "../ports/thing-certificates.js";
import { isRotationJob, retireReplacedCertificates, thingOfArn } from "./retirement.js";

describe("certificate retirement's decision", () => {
  it("reads a thing's name from its ARN only", () => {
    expect(thingOfArn("arn:aws:iot:eu-central-1:123456789012:thing/medusa-pi-1")).toBe(
      "medusa-pi-1",
    );
    expect(thingOfArn("arn:aws:iot:eu-central-1:123456789012:cert/abc")).toBeUndefined();
    expect(thingOfArn("arn:aws:iot:eu-central-1:123456789012:thing/a/b")).toBeUndefined();
  });

  it("knows the stage's certificate.rotate jobs by their id", () => {
    expect(isRotationJob("medusa-dev-certificate-rotate-17", "medusa-dev-")).toBe(true);
    expect(isRotationJob("medusa-prod-certificate-rotate-17", "medusa-dev-")).toBe(false);
    expect(isRotationJob("medusa-dev-agent-update-17", "medusa-dev-")).toBe(false);
    expect(isRotationJob("certificate-rotate-17")).toBe(true);
  });

  it("deactivates the other ACTIVE certificates only, and refuses an unregistered thing", async () => {
    const deactivated: Array<string> = [];
    const registry = (registered: boolean) =>
      Layer.succeed(ThingCertificates, {
        attached: (thing) =>
          registered
            ? Effect.succeed([
                { certificateId: "old", status: "ACTIVE" },
                { certificateId: "older", status: "INACTIVE" },
                { certificateId: "new", status: "ACTIVE" },
              ])
            : Effect.fail(new DeviceNotRegistered({ deviceId: thing })),
        deactivate: (id) => Effect.sync(() => void deactivated.push(id)),
      });
    const event = {
      eventType: "JOB_EXECUTION" as const,
      operation: "succeeded",
      jobId: "certificate-rotate-1",
      thingArn: "arn:aws:iot:local:000000000000:thing/medusa-pi-1",
      status: "SUCCEEDED",
      statusDetails: { certificate_id: "new" },
    };
    expect(
      await Effect.runPromise(
        retireReplacedCertificates(event).pipe(Effect.provide(registry(true))),
      ),
    ).toEqual({ kind: "retired", thingName: deviceId("medusa-pi-1"), certificateIds: ["old"] });
    expect(deactivated).toEqual(["old"]);
    expect(
      await Effect.runPromise(
        retireReplacedCertificates(event).pipe(Effect.provide(registry(false))),
      ),
    ).toMatchObject({ kind: "refused" });
    expect(deactivated).toEqual(["old"]);
  });
});
