import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { DeviceId, topicFor, topicTemplates } from "@medusa/domain";
import { Either, ParseResult, Schema } from "effect";
import { parse as parseToml, TomlError } from "smol-toml";
import { type ConfigFile, decodeConfigFile, unknownKeys } from "./config-file.js";

export const DEFAULT_CONFIG_PATH = "/etc/medusa/mqtt_publisher.toml";

/** A configuration problem: which file, which key, what is wrong. */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  file: Schema.String,
  key: Schema.String,
  problem: Schema.String,
}) {
  override get message(): string {
    return `${this.file}: ${this.key ? `${this.key}: ` : ""}${this.problem}`;
  }
}

/** The resolved configuration the agent runs with. */
export interface DeviceConfig {
  readonly file: string;
  readonly deviceId: DeviceId;
  /** How the device id was chosen. */
  readonly deviceIdSource: "device_id" | "client_id" | "auto";
  readonly mqtt: {
    readonly host: string;
    readonly port: number;
    readonly clientId: string;
    readonly caPath: string;
    readonly certPath: string;
    readonly keyPath: string;
    readonly protocolVersion: 4 | 5;
    readonly keepaliveS: number;
    readonly backoff: { readonly baseMs: number; readonly capMs: number };
  };
  readonly topics: {
    readonly prefix: string;
    readonly sensorData: string;
    readonly status: string;
    readonly deviceInfo: string;
    readonly commands: string;
    readonly commandResponse: string;
  };
  readonly sensor: {
    readonly kind: "adxl345" | "synthetic";
    readonly sampleRateHz: number;
    readonly i2cBus: number;
    readonly i2cAddress: number;
    readonly seed: number;
  };
  readonly device: { readonly location: string; readonly deviceType: string };
  readonly publishIntervalMs: number;
  readonly statusIntervalMs: number;
  readonly outbox: {
    readonly path: string;
    readonly maxBytes: number;
    readonly durability: "fsync" | "batch" | "none";
  };
  /** Things worth a warning that do not stop the agent (unknown keys, key file permissions). */
  readonly warnings: ReadonlyArray<string>;
}

/** Environment variables other deployments set, and the key each overrides. */
export const ENV_OVERRIDES = {
  AWS_IOT_ENDPOINT: "mqtt.broker_host",
  AWS_IOT_CERT_PATH: "mqtt.client_cert",
  AWS_IOT_KEY_PATH: "mqtt.client_key",
  AWS_IOT_CA_PATH: "mqtt.ca_cert",
  AWS_IOT_CLIENT_ID: "mqtt.client_id",
} as const;

export interface LoadOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Reads and creates the persisted id in `device_id = "auto"` mode. */
  readonly fs?: {
    readonly read: (path: string) => string | undefined;
    readonly write: (path: string, content: string) => void;
    readonly mode: (path: string) => number | undefined;
  };
  readonly newId?: () => string;
}

const nodeFs: NonNullable<LoadOptions["fs"]> = {
  read: (path) => {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return undefined;
    }
  },
  write: (path, content) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content, { mode: 0o644 });
  },
  mode: (path) => {
    try {
      return statSync(path).mode;
    } catch {
      return undefined;
    }
  },
};

/** The config file path: `--config PATH`, else `MEDUSA_CONFIG`, else the default. */
export const configPath = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>,
): string => {
  const i = argv.indexOf("--config");
  const fromArg =
    i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith("--config="))?.slice("--config=".length);
  return fromArg ?? env.MEDUSA_CONFIG ?? DEFAULT_CONFIG_PATH;
};

const isDeviceId = Schema.is(DeviceId);

/** Reads, validates and resolves the configuration. Every problem names the file and key. */
export const loadConfig = (
  file: string,
  options: LoadOptions = {},
): Either.Either<DeviceConfig, ConfigError> => {
  const fs = options.fs ?? nodeFs;
  const text = fs.read(file);
  if (text === undefined)
    return Either.left(new ConfigError({ file, key: "", problem: "cannot read the file" }));
  return parseConfig(text, file, { ...options, fs });
};

/** As `loadConfig`, from the file's text. */
export const parseConfig = (
  text: string,
  file: string,
  options: LoadOptions = {},
): Either.Either<DeviceConfig, ConfigError> => {
  const env = options.env ?? {};
  const fs = options.fs ?? nodeFs;
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    const where = e instanceof TomlError ? `line ${e.line}, column ${e.column}` : "";
    return Either.left(
      new ConfigError({ file, key: where, problem: `not valid TOML: ${firstLine(e)}` }),
    );
  }
  const withEnv = applyEnv(raw, env);
  const decoded = decodeConfigFile(withEnv);
  if (Either.isLeft(decoded)) {
    const [issue] = ParseResult.ArrayFormatter.formatErrorSync(decoded.left);
    return Either.left(
      new ConfigError({
        file,
        key: issue ? issue.path.join(".") : "",
        problem: issue?.message ?? "invalid",
      }),
    );
  }
  return resolve(decoded.right, file, fs, options.newId ?? randomUUID, unknownKeys(raw));
};

const resolve = (
  c: ConfigFile,
  file: string,
  fs: NonNullable<LoadOptions["fs"]>,
  newId: () => string,
  unknown: ReadonlyArray<string>,
): Either.Either<DeviceConfig, ConfigError> => {
  const fail = (key: string, problem: string) =>
    Either.left(new ConfigError({ file, key, problem }));
  const { broker_host, client_id, ca_cert, client_cert, client_key } = c.mqtt;
  if (!broker_host) return fail("mqtt.broker_host", "is required (or AWS_IOT_ENDPOINT)");
  if (!client_id) return fail("mqtt.client_id", "is required (or AWS_IOT_CLIENT_ID)");
  if (!ca_cert) return fail("mqtt.ca_cert", "is required (or AWS_IOT_CA_PATH)");
  if (!client_cert) return fail("mqtt.client_cert", "is required (or AWS_IOT_CERT_PATH)");
  if (!client_key) return fail("mqtt.client_key", "is required (or AWS_IOT_KEY_PATH)");
  const warnings = unknown.map((k) => `${file}: ${k}: unknown key, ignored`);

  let deviceId: string;
  let deviceIdSource: DeviceConfig["deviceIdSource"];
  if (c.device.device_id === "auto") {
    deviceIdSource = "auto";
    const stored = fs.read(c.device.device_id_file)?.trim();
    if (stored) {
      deviceId = stored;
    } else {
      deviceId = newId();
      try {
        fs.write(c.device.device_id_file, `${deviceId}\n`);
      } catch (e) {
        return fail(
          "device.device_id_file",
          `cannot persist the generated device id: ${firstLine(e)}`,
        );
      }
    }
  } else if (c.device.device_id !== undefined) {
    deviceIdSource = "device_id";
    deviceId = c.device.device_id;
  } else {
    deviceIdSource = "client_id";
    deviceId = client_id;
  }
  if (!isDeviceId(deviceId)) {
    const key =
      deviceIdSource === "client_id"
        ? "mqtt.client_id"
        : deviceIdSource === "auto"
          ? "device.device_id_file"
          : "device.device_id";
    return fail(
      key,
      `"${deviceId}" is not a valid device id (an AWS IoT thing name: 1-128 characters of [a-zA-Z0-9:_-])`,
    );
  }

  const prefix = c.mqtt.topic_prefix;
  const templates = topicTemplates(prefix);
  const topic = (template: string | undefined, fallback: string) =>
    topicFor(template ?? fallback, deviceId as DeviceId);

  const keyMode = fs.mode(client_key);
  if (keyMode !== undefined && (keyMode & 0o077) !== 0) {
    warnings.push(
      `${file}: mqtt.client_key: ${client_key} is readable by group or others (mode ${(keyMode & 0o777).toString(8)}); run chmod 600`,
    );
  }
  if (c.mqtt.backoff_cap_ms < c.mqtt.backoff_base_ms) {
    return fail("mqtt.backoff_cap_ms", "must not be below backoff_base_ms");
  }

  return Either.right({
    file,
    deviceId: deviceId as DeviceId,
    deviceIdSource,
    mqtt: {
      host: broker_host,
      port: c.mqtt.broker_port,
      clientId: client_id,
      caPath: ca_cert,
      certPath: client_cert,
      keyPath: client_key,
      protocolVersion: c.mqtt.protocol_version === 5 || c.mqtt.protocol_version === "5" ? 5 : 4,
      keepaliveS: c.mqtt.keepalive_s,
      backoff: { baseMs: c.mqtt.backoff_base_ms, capMs: c.mqtt.backoff_cap_ms },
    },
    topics: {
      prefix,
      sensorData: topic(c.mqtt.topics.sensor_data, templates.sensorData),
      status: topic(c.mqtt.topics.status, templates.status),
      deviceInfo: topic(c.mqtt.topics.device_info, templates.deviceInfo),
      commands: `${topicFor(templates.commands, deviceId as DeviceId)}/#`,
      commandResponse: topicFor(templates.commandResponse, deviceId as DeviceId),
    },
    sensor: {
      kind: c.sensor.kind,
      sampleRateHz: c.sensor.sample_rate_hz,
      i2cBus: c.sensor.i2c_bus,
      i2cAddress: c.sensor.i2c_address,
      seed: c.sensor.seed,
    },
    device: { location: c.device.location, deviceType: c.device.device_type },
    publishIntervalMs: c.publish.interval_ms,
    statusIntervalMs: c.publish.status_interval_ms,
    outbox: { path: c.outbox.path, maxBytes: c.outbox.max_bytes, durability: c.outbox.durability },
    warnings,
  });
};

const applyEnv = (
  raw: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
) => {
  const mqtt = { ...((raw.mqtt as Record<string, unknown> | undefined) ?? {}) };
  for (const [variable, key] of Object.entries(ENV_OVERRIDES)) {
    const value = env[variable];
    if (value !== undefined && value !== "") mqtt[key.slice("mqtt.".length)] = value;
  }
  return { ...raw, mqtt };
};

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0] ?? "";

/** The resolved configuration for `--check`: paths shown, nothing secret printed. */
export const describeConfig = (c: DeviceConfig): string =>
  [
    `config file        ${c.file}`,
    `device id          ${c.deviceId} (from ${c.deviceIdSource})`,
    `broker             mqtts://${c.mqtt.host}:${c.mqtt.port} (MQTT ${c.mqtt.protocolVersion === 5 ? "5" : "3.1.1"}, client id ${c.mqtt.clientId}, keepalive ${c.mqtt.keepaliveS} s)`,
    `ca certificate     ${c.mqtt.caPath}`,
    `client certificate ${c.mqtt.certPath}`,
    `client key         ${c.mqtt.keyPath} (contents never printed)`,
    `reconnect backoff  ${c.mqtt.backoff.baseMs} ms doubling to ${c.mqtt.backoff.capMs} ms, full jitter`,
    `topics             ${c.topics.sensorData}, ${c.topics.status}, ${c.topics.deviceInfo}; commands ${c.topics.commands}`,
    `sensor             ${c.sensor.kind} at ${c.sensor.sampleRateHz} Hz${c.sensor.kind === "adxl345" ? ` (I2C bus ${c.sensor.i2cBus}, address 0x${c.sensor.i2cAddress.toString(16)})` : ` (seed ${c.sensor.seed})`}`,
    `publish            every ${c.publishIntervalMs} ms; status every ${c.statusIntervalMs} ms`,
    `outbox             ${c.outbox.path} (max ${c.outbox.maxBytes} bytes, durability ${c.outbox.durability})`,
    `location           ${c.device.location || "(not set)"}`,
    ...c.warnings.map((w) => `warning: ${w}`),
  ].join("\n");
