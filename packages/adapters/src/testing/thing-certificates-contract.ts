import { randomBytes } from "node:crypto";
import { type DeviceId, deviceId, type ThingCertificatesService } from "@medusa/domain";
import { Effect, Either } from "effect";
import { describe, expect, it } from "vitest";
import type { CertificateRegistry } from "../broker/certificate-registry.js";

/** A service under test and the registry behind it (the broker's, directly or over the emulated control plane). */
export interface ThingCertificatesUnderTest {
  readonly service: ThingCertificatesService;
  readonly registry: CertificateRegistry;
}

/** The behaviour every `ThingCertificates` has (the local registry and the AWS SDK adapter run the same suite). */
export const thingCertificatesContract = (name: string, make: () => ThingCertificatesUnderTest) =>
  describe(`thing certificates contract: ${name}`, () => {
    const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect);
    /** A thing of this run with certificates in these statuses (each issued, then registered to it). */
    const thingWith = (
      registry: CertificateRegistry,
      statuses: ReadonlyArray<"ACTIVE" | "INACTIVE">,
    ): { thing: DeviceId; ids: ReadonlyArray<string> } => {
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

    it("lists every certificate attached to the thing with its status", async () => {
      const { service, registry } = make();
      const { thing, ids } = thingWith(registry, ["ACTIVE", "INACTIVE", "ACTIVE"]);
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
      const { thing, ids } = thingWith(
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
      const { thing, ids } = thingWith(registry, ["ACTIVE", "ACTIVE"]);
      const [old, current] = ids as [string, string];
      await run(service.deactivate(old));
      await run(service.deactivate(old));
      expect(registry.certificate(old)?.status).toBe("INACTIVE");
      expect(registry.certificate(current)?.status).toBe("ACTIVE");
      const attached = await run(service.attached(thing));
      expect(attached.find((c) => c.certificateId === old)?.status).toBe("INACTIVE");
    });
  });
