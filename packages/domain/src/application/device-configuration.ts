import { Effect, Either, Option, Schema } from "effect";
import {
  type ConfigurationChange,
  changeSettings,
  type DeviceSettings,
  MAX_LIVE_DURATION_MS,
  readDesiredSettings,
  type SettingRefusal,
  settingsState,
} from "../device-settings.js";
import { DeviceId, type EpochMillis } from "../ids.js";
import { Clock } from "../ports/clock.js";
import {
  type DeviceShadowRejected,
  DeviceShadows,
  type DeviceShadowUnavailable,
} from "../ports/device-shadows.js";
import { ReportedDeviceState } from "../reported-state.js";

/** A device without a shadow: it has not connected since, and no configuration was set for it. */
export class DeviceShadowNotFound extends Schema.TaggedError<DeviceShadowNotFound>()(
  "DeviceShadowNotFound",
  { deviceId: DeviceId },
) {
  override get message(): string {
    return `device ${this.deviceId} has no shadow yet: it has not reported, and no configuration was set for it`;
  }
}

/** A device's configuration as the cloud sees it through the shadow. */
export interface DeviceConfiguration {
  readonly deviceId: DeviceId;
  readonly version: number;
  /** The settings asked of the device (valid ones; what it refused is in `refused`). */
  readonly desired: DeviceSettings;
  /** The device's last report, when it made one this agent understands. */
  readonly reported: ReportedDeviceState | undefined;
  /** Settings asked for and not (yet) reported as taken, by key. */
  readonly pending: ReadonlyArray<string>;
  /** Desired values the device refused, with its reasons. */
  readonly refused: ReadonlyArray<SettingRefusal>;
  readonly desiredAt: number | undefined;
  readonly reportedAt: number | undefined;
}

const decodeReported = Schema.decodeUnknownEither(ReportedDeviceState);

const leafKeys = (value: unknown, prefix = ""): Array<string> =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? Object.entries(value).flatMap(([k, v]) => leafKeys(v, `${prefix}${k}.`))
    : [prefix.slice(0, -1)];

/** A device's desired settings, its last report, what is pending and what it refused. */
export const deviceConfiguration = (
  deviceId: DeviceId,
): Effect.Effect<
  DeviceConfiguration,
  DeviceShadowNotFound | DeviceShadowUnavailable,
  DeviceShadows
> =>
  Effect.gen(function* () {
    const shadows = yield* DeviceShadows;
    const shadow = yield* shadows.get(deviceId);
    if (Option.isNone(shadow)) return yield* Effect.fail(new DeviceShadowNotFound({ deviceId }));
    const { version, desired, reported, delta, desiredAt, reportedAt } = shadow.value;
    const decoded = reported === undefined ? undefined : decodeReported(reported);
    const report = decoded && Either.isRight(decoded) ? decoded.right : undefined;
    return {
      deviceId,
      version,
      desired: desired === undefined ? {} : readDesiredSettings(desired).settings,
      reported: report,
      pending: delta === undefined ? [] : leafKeys(delta),
      refused: report?.refused ?? [],
      desiredAt,
      reportedAt,
    };
  });

/** What a change was stored as: the shadow's version and the desired settings it wrote. */
export interface DesiredWrite {
  readonly deviceId: DeviceId;
  readonly version: number;
  readonly desired: DeviceSettings;
}

/**
 * Asks a device for durable settings (a sample rate, a publish or status
 * interval): merged into its shadow's desired state; the device takes them
 * when it next hears from its shadow, keeps them across restarts and reports them.
 */
export const changeConfiguration = (
  deviceId: DeviceId,
  change: ConfigurationChange,
): Effect.Effect<DesiredWrite, DeviceShadowRejected | DeviceShadowUnavailable, DeviceShadows> =>
  Effect.gen(function* () {
    const desired = changeSettings(change);
    const shadows = yield* DeviceShadows;
    const { version } = yield* shadows.updateDesired(deviceId, settingsState(desired));
    return { deviceId, version, desired };
  });

/**
 * Live mode: publish every `intervalMs` for `durationMs` (at most an hour),
 * then the device's own interval again, by itself, online or not.
 */
export const startLiveMode = (
  deviceId: DeviceId,
  request: { readonly intervalMs: number; readonly durationMs: number },
): Effect.Effect<
  DesiredWrite,
  DeviceShadowRejected | DeviceShadowUnavailable,
  DeviceShadows | Clock
> =>
  Effect.gen(function* () {
    const now = yield* Effect.flatMap(Clock, (c) => c.now);
    const live = {
      intervalMs: request.intervalMs,
      until: now + Math.min(request.durationMs, MAX_LIVE_DURATION_MS),
    };
    const shadows = yield* DeviceShadows;
    const { version } = yield* shadows.updateDesired(deviceId, settingsState({ live }));
    return { deviceId, version, desired: { live } };
  });

/**
 * Ends live mode now: its end moved to now (the device falls back at once).
 * Nothing to end when the shadow asks for no live mode.
 */
export const endLiveMode = (
  deviceId: DeviceId,
): Effect.Effect<
  DesiredWrite,
  DeviceShadowNotFound | DeviceShadowRejected | DeviceShadowUnavailable,
  DeviceShadows | Clock
> =>
  Effect.gen(function* () {
    const now: EpochMillis = yield* Effect.flatMap(Clock, (c) => c.now);
    const current = yield* deviceConfiguration(deviceId);
    const live = current.desired.live;
    if (live === undefined || live.until <= now)
      return { deviceId, version: current.version, desired: {} };
    const ended = { intervalMs: live.intervalMs, until: now };
    const shadows = yield* DeviceShadows;
    const { version } = yield* shadows.updateDesired(deviceId, settingsState({ live: ended }));
    return { deviceId, version, desired: { live: ended } };
  });
