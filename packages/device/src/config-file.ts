// The configuration file as written (its schema and the keys it may hold); `config.ts` resolves it.
import {
  DEFAULT_TOPIC_PREFIX,
  DEVICE_ID_PLACEHOLDER,
  MAX_PUBLISH_INTERVAL_MS,
  MIN_PUBLISH_INTERVAL_MS,
  RuleName,
  SampleRateHz,
  validateTemplate,
} from "@medusa/domain";
import { Schema } from "effect";

export const DEFAULT_DEVICE_ID_FILE = "/data/medusa/device_id";
export const DEFAULT_PROVISIONING_DIR = "/data/medusa/provisioning";

const Port = Schema.Number.pipe(
  Schema.int({ message: () => "must be an integer port" }),
  Schema.between(1, 65535, { message: () => "must be a port between 1 and 65535" }),
);
const Path = Schema.String.pipe(Schema.minLength(1, { message: () => "must be a file path" }));
/**
 * A topic as the file gives it: a template with `{device_id}`, or (as the
 * older guide wrote them) the device's own topic in full. Whose topic a full
 * one is, is checked once the device id is known (`config.ts`).
 */
const TopicSetting = Schema.String.pipe(
  Schema.filter((t) => {
    if (t.includes(DEVICE_ID_PLACEHOLDER)) return validateTemplate(t)?.reason ?? true;
    if (/[+#]/.test(t) || t.includes("\u0000")) return "must not contain + # or NUL";
    if (t.split("/").some((level) => level === "")) return "must not have empty levels";
    return true;
  }),
);
/** A whole number in a range: seconds, milliseconds and bytes are counted, not measured. */
const whole = (what: string, min: number, max: number) =>
  Schema.Number.pipe(
    Schema.finite({ message: () => `${what} must be a number` }),
    Schema.int({ message: () => `${what} must be a whole number` }),
    Schema.between(min, max, { message: () => `${what} must be between ${min} and ${max}` }),
  );
const opt = <A, I>(schema: Schema.Schema<A, I>, value: () => A) =>
  Schema.optionalWith(schema, { default: value, exact: true });
/** A table whose keys all have defaults: absent, it decodes as if empty. */
const section = <A, I>(schema: Schema.Schema<A, I>) =>
  Schema.optionalWith(schema, { default: () => Schema.decodeUnknownSync(schema)({}), exact: true });

/**
 * The file as written: `mqtt_publisher.toml`, compatible with the old
 * publisher's file, plus new keys with defaults.
 */
export const ConfigFile = Schema.Struct({
  mqtt: Schema.Struct({
    // Required, but checked after the environment overrides are applied.
    broker_host: Schema.optionalWith(Schema.String, { exact: true }),
    broker_port: opt(Port, () => 8883),
    client_id: Schema.optionalWith(Schema.String, { exact: true }),
    ca_cert: Schema.optionalWith(Path, { exact: true }),
    client_cert: Schema.optionalWith(Path, { exact: true }),
    client_key: Schema.optionalWith(Path, { exact: true }),
    protocol_version: opt(
      Schema.Union(Schema.Literal(4, 5), Schema.Literal("3.1.1", "5")),
      () => 4 as const,
    ),
    keepalive_s: opt(whole("keepalive_s", 5, 1200), () => 30),
    backoff_base_ms: opt(whole("backoff_base_ms", 10, 600_000), () => 1_000),
    backoff_cap_ms: opt(whole("backoff_cap_ms", 100, 3_600_000), () => 60_000),
    topic_prefix: opt(
      Schema.String.pipe(
        Schema.pattern(/^[^+#/]+(\/[^+#/]+)*$/, {
          message: () => "must be topic levels without wildcards",
        }),
      ),
      () => DEFAULT_TOPIC_PREFIX,
    ),
    topics: section(
      Schema.Struct({
        sensor_data: Schema.optionalWith(TopicSetting, { exact: true }),
        status: Schema.optionalWith(TopicSetting, { exact: true }),
        device_info: Schema.optionalWith(TopicSetting, { exact: true }),
      }),
    ),
  }),
  sensor: section(
    Schema.Struct({
      sample_rate_hz: opt(SampleRateHz, () => 10),
      kind: opt(Schema.Literal("adxl345", "synthetic"), () => "adxl345" as const),
      i2c_bus: opt(Schema.Number.pipe(Schema.int(), Schema.between(0, 255)), () => 1),
      i2c_address: opt(Schema.Number.pipe(Schema.int(), Schema.between(0x03, 0x77)), () => 0x53),
      seed: opt(Schema.Number.pipe(Schema.int()), () => 1),
    }),
  ),
  device: section(
    Schema.Struct({
      location: opt(Schema.String, () => ""),
      device_id: Schema.optionalWith(Schema.String, { exact: true }),
      device_id_file: opt(Path, () => DEFAULT_DEVICE_ID_FILE),
      device_type: opt(Schema.String, () => "raspberry-pi"),
    }),
  ),
  publish: section(
    Schema.Struct({
      interval_ms: opt(
        whole("interval_ms", MIN_PUBLISH_INTERVAL_MS, MAX_PUBLISH_INTERVAL_MS),
        () => 1_000,
      ),
      status_interval_ms: opt(whole("status_interval_ms", 1_000, 3_600_000), () => 30_000),
      // Absent: sensor data goes to its plain topic, through the message broker.
      basic_ingest_rule: Schema.optionalWith(RuleName, { exact: true }),
    }),
  ),
  // Sync with the thing's classic shadow (AWS IoT, the local stack); off for a broker
  // without a shadow service (Mosquitto).
  shadow: section(
    Schema.Struct({
      enabled: opt(Schema.Boolean, () => true),
    }),
  ),
  outbox: section(
    Schema.Struct({
      path: opt(Path, () => "/var/lib/medusa/outbox"),
      max_bytes: opt(whole("max_bytes", 64 * 1024, 8 * 1024 ** 3), () => 50 * 1024 * 1024),
      durability: opt(Schema.Literal("fsync", "batch", "none"), () => "batch" as const),
    }),
  ),
  // AWS IoT Jobs (`jobs-client.ts`): on unless `enabled = false` (a broker without the Jobs service).
  jobs: section(
    Schema.Struct({
      enabled: opt(Schema.Boolean, () => true),
      // A CA trusted for agent.update's https downloads besides the system's (the local stack's dev CA).
      update_ca_file: Schema.optionalWith(Path, { exact: true }),
      update_confirm_s: opt(whole("update_confirm_s", 10, 3_600), () => 120),
      update_max_bytes: opt(
        whole("update_max_bytes", 64 * 1024, 256 * 1024 ** 2),
        () => 32 * 1024 ** 2,
      ),
      update_download_s: opt(whole("update_download_s", 5, 3_600), () => 300),
    }),
  ),
  // First boot by fleet provisioning with a claim certificate (`provisioning.ts`); absent: none.
  provisioning: Schema.optionalWith(
    Schema.Struct({
      template: Schema.String.pipe(
        Schema.pattern(/^[0-9A-Za-z_-]{1,36}$/, {
          message: () => "must be a provisioning template name (1-36 of [0-9A-Za-z_-])",
        }),
      ),
      claim_cert: Path,
      claim_key: Path,
      serial_number: Schema.optionalWith(
        Schema.String.pipe(
          Schema.pattern(/^[A-Za-z0-9:_-]{1,64}$/, {
            message: () => "must be 1-64 characters of [A-Za-z0-9:_-]",
          }),
        ),
        { exact: true },
      ),
      dir: opt(Path, () => DEFAULT_PROVISIONING_DIR),
    }),
    { exact: true },
  ),
});
export type ConfigFile = typeof ConfigFile.Type;

export const decodeConfigFile = Schema.decodeUnknownEither(ConfigFile, {
  errors: "all",
  onExcessProperty: "ignore",
});

/** Every key the file may hold, by table (the README's configuration table is checked against it). */
export const CONFIG_KEYS: Record<string, ReadonlyArray<string>> = {
  mqtt: [
    "broker_host",
    "broker_port",
    "client_id",
    "ca_cert",
    "client_cert",
    "client_key",
    "protocol_version",
    "keepalive_s",
    "backoff_base_ms",
    "backoff_cap_ms",
    "topic_prefix",
    "topics",
  ],
  "mqtt.topics": ["sensor_data", "status", "device_info"],
  sensor: ["sample_rate_hz", "kind", "i2c_bus", "i2c_address", "seed"],
  device: ["location", "device_id", "device_id_file", "device_type"],
  publish: ["interval_ms", "status_interval_ms", "basic_ingest_rule"],
  shadow: ["enabled"],
  outbox: ["path", "max_bytes", "durability"],
  jobs: ["enabled", "update_ca_file", "update_confirm_s", "update_max_bytes", "update_download_s"],
  provisioning: ["template", "claim_cert", "claim_key", "serial_number", "dir"],
};

/** The keys of a parsed file that `CONFIG_KEYS` does not know, as dotted paths. */
export const unknownKeys = (raw: Record<string, unknown>, prefix = ""): Array<string> => {
  const out: Array<string> = [];
  for (const [key, value] of Object.entries(raw)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const known = prefix ? CONFIG_KEYS[prefix]?.includes(key) : key in CONFIG_KEYS;
    if (!known) out.push(path);
    else if (value && typeof value === "object" && !Array.isArray(value) && CONFIG_KEYS[path])
      out.push(...unknownKeys(value as Record<string, unknown>, path));
  }
  return out;
};
