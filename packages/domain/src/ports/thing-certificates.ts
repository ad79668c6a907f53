import { Context, type Effect, Schema } from "effect";
import type { DeviceId } from "../ids.js";
import type { AttachedCertificate } from "../provisioning/rotation.js";
import type { DeviceNotRegistered } from "./device-jobs.js";

/** The certificate registry (AWS IoT's ListThingPrincipals, DescribeCertificate, UpdateCertificate) did not answer. */
export class ThingCertificatesUnavailable extends Schema.TaggedError<ThingCertificatesUnavailable>()(
  "ThingCertificatesUnavailable",
  { operation: Schema.String, reason: Schema.String },
) {
  override get message(): string {
    return `the certificate registry failed to ${this.operation}: ${this.reason}`;
  }
}

/**
 * A thing's certificates, as the cloud half of certificate rotation reads and
 * retires them: AWS IoT's registry in AWS (`@aws-sdk/client-iot`), the local
 * broker's certificate registry in the stack; both pass one contract
 * (`thingCertificatesContract` in `@medusa/adapters/testing`).
 */
export interface ThingCertificatesService {
  /** The certificates attached to the thing, with their status (ACTIVE, INACTIVE, …). */
  readonly attached: (
    thing: DeviceId,
  ) => Effect.Effect<
    ReadonlyArray<AttachedCertificate>,
    DeviceNotRegistered | ThingCertificatesUnavailable
  >;
  /** Sets the certificate INACTIVE: a device can no longer connect with it (it stays attached). */
  readonly deactivate: (certificateId: string) => Effect.Effect<void, ThingCertificatesUnavailable>;
}

export class ThingCertificates extends Context.Tag("@medusa/ThingCertificates")<
  ThingCertificates,
  ThingCertificatesService
>() {}
