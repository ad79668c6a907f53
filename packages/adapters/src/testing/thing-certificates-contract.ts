import { randomBytes } from "node:crypto";
import { deviceId, type ThingCertificatesService } from "@medusa/domain";
import { Effect, Either } from "effect";
import { describe, expect, it } from "vitest";
import type { CertificateRegistry } from "../broker/certificate-registry.js";
import { registeredThing } from "./registered-thing.js";

/** A service under test and the registry behind it (the broker's, directly or over the emulated control plane). */
export interface ThingCertificatesUnderTest {
  readonly service: ThingCertificatesService;
  readonly registry: CertificateRegistry;
}

/** The behaviour every `ThingCertificates` has (the local registry and the AWS SDK adapter run the same suite). */
export const thingCertificatesContract = (name: string, make: () => ThingCertificatesUnderTest) =>
  describe(`thing certificates contract: ${name}`, () => {
    const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect);
    it("lists every certificate attached to the thing with its status", async () => {
      const { service, registry } = make();
      const { thing, ids } = registeredThing(registry, ["ACTIVE", "INACTIVE", "ACTIVE"]);
      const attached = await run(service.attached(thing));
      expect([...attached].sort((a, b) => a.certificateId.localeCompare(b.certificateId))).toEqual(
        [
          { certificateId: ids[0], status: "ACTIVE" },
          { certificateId: ids[1], status: "INACTIVE" },
          { certificateId: ids[2], status: "ACTIVE" },
        ].sort((a, b) => String(a.certificateId).localeCompare(String(b.certificateId))),
      );
    });

    it("lists more certificates than one page holds", async () => {
      const { service, registry } = make();
      const { thing, ids } = registeredThing(
        registry,
        Array.from({ length: 105 }, () => "ACTIVE"),
      );
      const attached = await run(service.attached(thing));
      expect(attached.map((c) => c.certificateId).sort()).toEqual([...ids].sort());
    });

    it("a thing that is not registered: DeviceNotRegistered", async () => {
      const { service } = make();
      const missing = deviceId(`medusa-${randomBytes(6).toString("hex")}`);
      const result = await run(Effect.either(service.attached(missing)));
      expect(Either.isLeft(result) && result.left._tag).toBe("DeviceNotRegistered");
    });

    it("deactivates one certificate, leaves the others, and deactivating again changes nothing", async () => {
      const { service, registry } = make();
      const { thing, ids } = registeredThing(registry, ["ACTIVE", "ACTIVE"]);
      const [old, current] = ids as [string, string];
      await run(service.deactivate(old));
      await run(service.deactivate(old));
      expect(registry.certificate(old)?.status).toBe("INACTIVE");
      expect(registry.certificate(current)?.status).toBe("ACTIVE");
      const attached = await run(service.attached(thing));
      expect(attached.find((c) => c.certificateId === old)?.status).toBe("INACTIVE");
    });
  });
