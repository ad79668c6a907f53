import { Schema } from "effect";
import { EpochMillis } from "../ids.js";
import { Temperature } from "../sample.js";

const Count = Schema.Number.pipe(Schema.int(), Schema.nonNegative());
const Bytes = Count;

/** Health report a device publishes on its status interval. */
export const DeviceStatus = Schema.Struct({
  timestamp: EpochMillis,
  uptime_s: Schema.Number.pipe(Schema.finite(), Schema.nonNegative()),
  wifi: Schema.Struct({
    connected: Schema.Boolean,
    ssid: Schema.NullOr(Schema.String),
  }),
  mqtt: Schema.Struct({ connected: Schema.Boolean }),
  sensor: Schema.Struct({
    model: Schema.String,
    healthy: Schema.Boolean,
    error: Schema.NullOr(Schema.String),
    sample_rate_hz: Schema.Number.pipe(Schema.finite(), Schema.positive()),
  }),
  memory: Schema.Struct({
    rss_bytes: Bytes,
    heap_used_bytes: Bytes,
    system_free_bytes: Bytes,
    system_total_bytes: Bytes,
  }),
  cpu_temperature_c: Schema.NullOr(Temperature),
  outbox: Schema.Struct({ depth: Count, bytes: Bytes, drops: Count }),
  reconnects: Count,
  last_publish_at: Schema.NullOr(EpochMillis),
});
export type DeviceStatus = typeof DeviceStatus.Type;

/** What a device is; published on every (re)connect. */
export const DeviceInfo = Schema.Struct({
  timestamp: EpochMillis,
  device_type: Schema.String,
  firmware_version: Schema.String,
  location: Schema.String,
  sensor_model: Schema.String,
  sample_rate_hz: Schema.Number.pipe(Schema.finite(), Schema.positive()),
  publish_interval_ms: Schema.Number.pipe(Schema.int(), Schema.positive()),
});
export type DeviceInfo = typeof DeviceInfo.Type;
