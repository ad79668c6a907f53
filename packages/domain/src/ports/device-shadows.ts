import { Context, type Effect, type Option, Schema } from "effect";
import { DeviceId } from "../ids.js";

/** A device's shadow as the cloud reads it: the two states, their difference, when each last changed. */
export interface DeviceShadow {
  readonly version: number;
  readonly desired: Readonly<Record<string, unknown>> | undefined;
  readonly reported: Readonly<Record<string, unknown>> | undefined;
  /** The desired leaves that reported lacks or holds differently. */
  readonly delta: Readonly<Record<string, unknown>> | undefined;
  /** The latest change of each state (epoch ms, from the shadow's metadata; second resolution). */
  readonly desiredAt: number | undefined;
  readonly reportedAt: number | undefined;
}

/** The shadow service refused an update: AWS's code (400, 409, 413, 429, …) and message. */
export class DeviceShadowRejected extends Schema.TaggedError<DeviceShadowRejected>()(
  "DeviceShadowRejected",
  { deviceId: DeviceId, code: Schema.Number, reason: Schema.String },
) {
  override get message(): string {
    return `the shadow of ${this.deviceId} refused the update (${this.code}: ${this.reason})`;
  }
}

/** The shadow service could not be reached or failed (not a refusal). */
export class DeviceShadowUnavailable extends Schema.TaggedError<DeviceShadowUnavailable>()(
  "DeviceShadowUnavailable",
  { operation: Schema.String, reason: Schema.String },
) {
  override get message(): string {
    return `the shadow service failed to ${this.operation}: ${this.reason}`;
  }
}

/**
 * Devices' shadows, as the cloud side uses them: read one, merge a desired
 * state into one. AWS IoT's data plane in production, the local broker's
 * emulation of it on one machine; the use cases do not know which.
 */
export interface DeviceShadowsService {
  /** The classic shadow of the device; none when it has no shadow. */
  readonly get: (
    deviceId: DeviceId,
  ) => Effect.Effect<Option.Option<DeviceShadow>, DeviceShadowUnavailable>;
  /** Merges `desired` into the desired state (`null` removes a key); the shadow's new version. */
  readonly updateDesired: (
    deviceId: DeviceId,
    desired: Readonly<Record<string, unknown>>,
  ) => Effect.Effect<{ readonly version: number }, DeviceShadowRejected | DeviceShadowUnavailable>;
}

export class DeviceShadows extends Context.Tag("@medusa/DeviceShadows")<
  DeviceShadows,
  DeviceShadowsService
>() {}
