import { Schema } from "effect";
import { SettingRefusal } from "./device-settings.js";
import { EpochMillis } from "./ids.js";
import { DeviceStatus } from "./telemetry/device-messages.js";

const Count = Schema.Number.pipe(Schema.int(), Schema.nonNegative());
const optional = <A, I>(s: Schema.Schema<A, I>) => Schema.optionalWith(s, { exact: true });
/**
 * A value the device may not have (no error, no publish yet): `null` in its
 * report, which the shadow stores as no key at all ("null deletes"), so
 * both read as none.
 */
const maybe = <A, I>(s: Schema.Schema<A, I>) =>
  Schema.optionalWith(Schema.NullOr(s), { exact: true });

/**
 * What the device agent reports in its shadow: the settings it runs with
 * (under the configuration file's keys, so that a desired value it took
 * leaves no delta), what it refused, and its status — the fields of the
 * status report.
 */
export const ReportedDeviceState = Schema.Struct({
  agent: Schema.Struct({ version: Schema.String }),
  sensor: Schema.Struct({
    model: Schema.String,
    healthy: Schema.Boolean,
    error: maybe(Schema.String),
    sample_rate_hz: Schema.Number,
  }),
  publish: Schema.Struct({
    /** The device's own interval: its file's, or one the cloud set (not live mode's). */
    interval_ms: Schema.Number,
    status_interval_ms: Schema.Number,
    /** The last live mode the device took (kept after it ended, so the desired one leaves no delta). */
    live_interval_ms: optional(Schema.Number),
    live_until: optional(EpochMillis),
    /** The interval in force now: live mode's while it lasts, else `interval_ms`. */
    effective_interval_ms: Schema.Number,
    /** Sensor data goes straight to the ingest rule (Basic Ingest), not through the broker. */
    basic_ingest: Schema.Boolean,
    last_publish_at: maybe(EpochMillis),
  }),
  outbox: DeviceStatus.fields.outbox,
  reconnects: Count,
  uptime_s: DeviceStatus.fields.uptime_s,
  wifi: optional(Schema.Struct({ connected: Schema.Boolean, ssid: maybe(Schema.String) })),
  memory: optional(DeviceStatus.fields.memory),
  cpu_temperature_c: maybe(Schema.Number),
  /** The desired values the agent did not take, and why; empty when it took them all. */
  refused: Schema.Array(SettingRefusal),
  /** When the agent made this report (its clock). */
  timestamp: EpochMillis,
}).annotations({ identifier: "ReportedDeviceState" });
export type ReportedDeviceState = typeof ReportedDeviceState.Type;
