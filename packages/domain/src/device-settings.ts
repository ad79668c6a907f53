import { Either, ParseResult, Schema } from "effect";
import { EpochMillis } from "./ids.js";
import {
  MAX_PUBLISH_INTERVAL_MS,
  MIN_PUBLISH_INTERVAL_MS,
  SampleRateHz,
} from "./telemetry/device-commands.js";

/**
 * The settings the cloud may change on a running device, through its
 * shadow's desired state. Each one is a key of the agent's configuration
 * file, with the file's rule: the agent reads a desired value with the same
 * schema it reads its file with, and the API refuses what the agent would.
 */

/** A whole number in a range, named by its key (the configuration file's message). */
const wholeNumber = (key: string, min: number, max: number) =>
  Schema.Number.pipe(
    Schema.finite({ message: () => `${key} must be a number` }),
    Schema.int({ message: () => `${key} must be a whole number` }),
    Schema.between(min, max, { message: () => `${key} must be between ${min} and ${max}` }),
  );

/** `publish.interval_ms`: how often a batch of samples is sent. */
export const PublishIntervalMs = wholeNumber(
  "interval_ms",
  MIN_PUBLISH_INTERVAL_MS,
  MAX_PUBLISH_INTERVAL_MS,
);
export const MIN_STATUS_INTERVAL_MS = 1_000;
export const MAX_STATUS_INTERVAL_MS = 3_600_000;
/** `publish.status_interval_ms`: how often the status report is sent. */
export const StatusIntervalMs = wholeNumber(
  "status_interval_ms",
  MIN_STATUS_INTERVAL_MS,
  MAX_STATUS_INTERVAL_MS,
);
/** `publish.live_interval_ms`: the publish interval while live mode lasts. */
export const LiveIntervalMs = wholeNumber(
  "live_interval_ms",
  MIN_PUBLISH_INTERVAL_MS,
  MAX_PUBLISH_INTERVAL_MS,
);
/** Live mode lasts at most an hour per request: someone is watching, and it costs. */
export const MAX_LIVE_DURATION_MS = 3_600_000;

/** A setting's key, as the configuration file and the shadow spell it. */
export type SettingKey =
  | "sensor.sample_rate_hz"
  | "publish.interval_ms"
  | "publish.status_interval_ms"
  | "publish.live_interval_ms"
  | "publish.live_until";

/** Every setting a shadow may carry, with the schema its value must pass. */
export const SETTING_SCHEMAS: { readonly [K in SettingKey]: Schema.Schema<number, number> } = {
  "sensor.sample_rate_hz": SampleRateHz,
  "publish.interval_ms": PublishIntervalMs,
  "publish.status_interval_ms": StatusIntervalMs,
  "publish.live_interval_ms": LiveIntervalMs,
  // The time's checks without its brand: a setting is a plain number, as the file holds it.
  "publish.live_until": Schema.encodedBoundSchema(EpochMillis),
};
/** Whether a dotted key names a setting. */
const isSettingKey = (key: string): key is SettingKey => Object.hasOwn(SETTING_SCHEMAS, key);
export const SETTING_KEYS: ReadonlyArray<SettingKey> =
  Object.keys(SETTING_SCHEMAS).filter(isSettingKey);

/**
 * Live mode: a short publish interval until a time, after which the device
 * falls back to its own interval by itself (online or not). It is two keys
 * that are one setting: both valid, or neither taken.
 */
export interface LiveMode {
  readonly intervalMs: number;
  /** Epoch milliseconds. */
  readonly until: number;
}

/** What a desired state asks of the device, each value valid. */
export interface DeviceSettings {
  readonly sampleRateHz?: number;
  readonly publishIntervalMs?: number;
  readonly statusIntervalMs?: number;
  readonly live?: LiveMode;
}

/** A desired value the device did not take, and why (shown to clinicians: short, no value echoed at length). */
export const SettingRefusal = Schema.Struct({
  setting: Schema.String.pipe(Schema.maxLength(200)),
  reason: Schema.String.pipe(Schema.maxLength(300)),
});
export type SettingRefusal = typeof SettingRefusal.Type;

/** At most this many refusals are listed (a hostile desired state could name thousands of keys). */
export const MAX_REFUSALS = 10;
const MAX_REASON = 200;

const clip = (text: string, max: number) =>
  text.length > max ? `${text.slice(0, max - 1)}…` : text;

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u);

/** Every leaf of a desired state by its dotted key (arrays are leaves). */
const leavesOf = (value: Record<string, unknown>, prefix = ""): Array<[string, unknown]> =>
  Object.entries(value).flatMap(([k, v]) =>
    isRecord(v) && Object.keys(v).length > 0
      ? leavesOf(v, `${prefix}${k}.`)
      : [[`${prefix}${k}`, v] as [string, unknown]],
  );

const check = (key: SettingKey, value: unknown): Either.Either<number, string> =>
  Either.mapLeft(
    Schema.decodeUnknownEither(SETTING_SCHEMAS[key])(value),
    (e) => ParseResult.ArrayFormatter.formatErrorSync(e)[0]?.message ?? "invalid",
  );

/**
 * Reads the settings out of a desired state: each one checked on its own, so
 * that a bad one never stops a good one, and none taken in part (live mode's
 * two keys are taken together or not at all). What is not taken is listed
 * with the reason, keys that are no setting included.
 */
export const readDesiredSettings = (
  desired: unknown,
): { readonly settings: DeviceSettings; readonly refused: ReadonlyArray<SettingRefusal> } => {
  if (!isRecord(desired))
    return {
      settings: {},
      refused: [{ setting: "", reason: "the desired state is not an object" }],
    };
  const values = new Map(leavesOf(desired));
  const refused: Array<SettingRefusal> = [];
  const refuse = (setting: string, reason: string) =>
    refused.push({ setting: clip(setting, 200), reason: clip(reason, MAX_REASON) });
  const taken = new Map<SettingKey, number>();
  for (const key of SETTING_KEYS) {
    if (!values.has(key)) continue;
    const r = check(key, values.get(key));
    if (Either.isRight(r)) taken.set(key, r.right);
    else refuse(key, r.left);
  }
  const liveKeys = ["publish.live_interval_ms", "publish.live_until"] as const;
  const liveAsked = liveKeys.filter((k) => values.has(k));
  const [intervalMs, until] = liveKeys.map((k) => taken.get(k));
  const live =
    liveAsked.length === 2 && intervalMs !== undefined && until !== undefined
      ? { intervalMs, until }
      : undefined;
  if (liveAsked.length > 0 && live === undefined)
    for (const k of liveKeys)
      if (taken.has(k) || !values.has(k))
        refuse(
          k,
          values.has(k)
            ? "live mode needs a valid publish.live_interval_ms and publish.live_until together"
            : "live mode needs publish.live_interval_ms and publish.live_until together",
        );
  const unknown = [...values.keys()].filter((k) => !isSettingKey(k));
  for (const k of unknown) refuse(k, "not a setting the agent takes");
  const listed = refused.slice(0, MAX_REFUSALS);
  if (refused.length > MAX_REFUSALS)
    listed.push({ setting: "", reason: `and ${refused.length - MAX_REFUSALS} more` });
  const sampleRateHz = taken.get("sensor.sample_rate_hz");
  const publishIntervalMs = taken.get("publish.interval_ms");
  const statusIntervalMs = taken.get("publish.status_interval_ms");
  return {
    settings: {
      ...(sampleRateHz !== undefined ? { sampleRateHz } : {}),
      ...(publishIntervalMs !== undefined ? { publishIntervalMs } : {}),
      ...(statusIntervalMs !== undefined ? { statusIntervalMs } : {}),
      ...(live ? { live } : {}),
    },
    refused: listed,
  };
};

/** Settings as a shadow state holds them (the configuration file's tables and keys). */
export const settingsState = (settings: DeviceSettings) => {
  const publish = {
    ...(settings.publishIntervalMs !== undefined
      ? { interval_ms: settings.publishIntervalMs }
      : {}),
    ...(settings.statusIntervalMs !== undefined
      ? { status_interval_ms: settings.statusIntervalMs }
      : {}),
    ...(settings.live
      ? { live_interval_ms: settings.live.intervalMs, live_until: settings.live.until }
      : {}),
  };
  return {
    ...(settings.sampleRateHz !== undefined
      ? { sensor: { sample_rate_hz: settings.sampleRateHz } }
      : {}),
    ...(Object.keys(publish).length > 0 ? { publish } : {}),
  };
};

const optional = <A, I>(s: Schema.Schema<A, I>) => Schema.optionalWith(s, { exact: true });

/**
 * A change of a device's durable settings, as a clinician asks for it (the
 * API's body): the configuration file's tables and keys. Live mode has its
 * own request (`LiveModeRequest`).
 */
export const ConfigurationChange = Schema.Struct({
  sensor: optional(Schema.Struct({ sample_rate_hz: optional(SampleRateHz) })),
  publish: optional(
    Schema.Struct({
      interval_ms: optional(PublishIntervalMs),
      status_interval_ms: optional(StatusIntervalMs),
    }),
  ),
}).annotations({ identifier: "ConfigurationChange" });
export type ConfigurationChange = typeof ConfigurationChange.Type;

/** The settings a configuration change names. */
export const changeSettings = (change: ConfigurationChange): DeviceSettings => ({
  ...(change.sensor?.sample_rate_hz !== undefined
    ? { sampleRateHz: change.sensor.sample_rate_hz }
    : {}),
  ...(change.publish?.interval_ms !== undefined
    ? { publishIntervalMs: change.publish.interval_ms }
    : {}),
  ...(change.publish?.status_interval_ms !== undefined
    ? { statusIntervalMs: change.publish.status_interval_ms }
    : {}),
});

/** Which settings are in force: the live interval while it lasts, else the device's own. */
export const effectivePublishIntervalMs = (
  baseIntervalMs: number,
  live: LiveMode | undefined,
  now: number,
): number => (live !== undefined && now < live.until ? live.intervalMs : baseIntervalMs);
