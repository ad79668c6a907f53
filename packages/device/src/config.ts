// Over 350 lines on purpose: one resolver for the file, the environment and the defaults, so every key's rule (and its error message) is in one place; config-file.ts holds the file's schema.
import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve as resolvePath } from "node:path";
import {
  basicIngestTopic,
  DEVICE_ID_PLACEHOLDER,
  DeviceId,
  devicePublishTopics,
  mayPublish,
  topicFor,
  topicTemplates,
} from "@medusa/domain";
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
    /** Where sample batches go: the plain topic, or behind `$aws/rules/{basicIngestRule}/`. */
    readonly sensorData: string;
    /**
     * The AWS IoT rule sensor data is sent to directly with Basic Ingest
     * (`publish.basic_ingest_rule`), or null: the plain topic, through the
     * message broker. Status, device info and command responses always take
     * their plain topics.
     */
    readonly basicIngestRule: string | null;
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
  /** Sync with the thing's classic shadow (`shadow.enabled`, on by default; off for Mosquitto, which has none). */
  readonly shadow: { readonly enabled: boolean };
  readonly outbox: {
    readonly path: string;
    readonly maxBytes: number;
    readonly durability: "fsync" | "batch" | "none";
  };
  /** Things worth a warning that do not stop the agent (unknown keys, key file permissions). */
  /** The AWS IoT Jobs client and what `agent.update` may do. */
  readonly jobs: {
    readonly enabled: boolean;
    /** A CA file trusted for update downloads besides the system's CAs, or null. */
    readonly updateCaFile: string | null;
    /** How long a new bundle has to connect before the launcher restores the previous one. */
    readonly updateConfirmMs: number;
    readonly updateMaxBytes: number;
    readonly updateDownloadMs: number;
  };
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
  /** What a relative `--config` path and relative paths from the environment are resolved against (default: the working directory). */
  readonly cwd?: string;
  /** Reads the file, reads and creates the persisted id in `device_id = "auto"` mode. */
  readonly fs?: {
    /** The file's text; undefined when there is no such file; throws why it cannot be read otherwise. */
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
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
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

/** Why a file cannot be read, without the path Node repeats at the end (`ENOENT: no such file or directory`). */
export const readProblem = (e: unknown): string => {
  const text = firstLine(e);
  const syscall = (e as NodeJS.ErrnoException | undefined)?.syscall;
  const at = syscall ? text.lastIndexOf(`, ${syscall}`) : -1;
  return at > 0 ? text.slice(0, at) : text;
};

/**
 * Reads, validates and resolves the configuration. Every problem names the
 * file (its absolute path: a relative one is resolved against `cwd`) and key.
 */
export const loadConfig = (
  file: string,
  options: LoadOptions = {},
): Either.Either<DeviceConfig, ConfigError> => {
  const fs = options.fs ?? nodeFs;
  const path = resolvePath(options.cwd ?? process.cwd(), file);
  const cannotRead = (reason: string) =>
    Either.left(
      new ConfigError({ file: path, key: "", problem: `cannot read the file: ${reason}` }),
    );
  let text: string | undefined;
  try {
    text = fs.read(path);
  } catch (e) {
    return cannotRead(readProblem(e));
  }
  if (text === undefined) return cannotRead("ENOENT: no such file or directory");
  return parseConfig(text, path, { ...options, fs });
};

/**
 * As `loadConfig`, from the file's text. Relative paths in the file are
 * resolved against the file's folder; those from the environment, against `cwd`.
 */
export const parseConfig = (
  text: string,
  fileAsGiven: string,
  options: LoadOptions = {},
): Either.Either<DeviceConfig, ConfigError> => {
  const env = options.env ?? {};
  const fs = options.fs ?? nodeFs;
  const cwd = options.cwd ?? process.cwd();
  const file = resolvePath(cwd, fileAsGiven);
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    const where = e instanceof TomlError ? `line ${e.line}, column ${e.column}` : "";
    return Either.left(
      new ConfigError({ file, key: where, problem: `not valid TOML: ${firstLine(e)}` }),
    );
  }
  const overrides = Object.entries(ENV_OVERRIDES).flatMap(([variable, key]) => {
    const value = env[variable];
    return value !== undefined && value !== "" ? [[key, value] as const] : [];
  });
  const withEnv = applyEnv(raw, overrides);
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
  // A path from the environment is the operator's, typed where they are; one in the file is the file's.
  const fromEnv = new Set<string>(overrides.map(([key]) => key));
  const pathOf = (key: string, path: string) =>
    resolvePath(fromEnv.has(key) ? cwd : dirname(file), path);
  return resolve(decoded.right, file, fs, options.newId ?? randomUUID, unknownKeys(raw), pathOf);
};

const resolve = (
  c: ConfigFile,
  file: string,
  fs: NonNullable<LoadOptions["fs"]>,
  newId: () => string,
  unknown: ReadonlyArray<string>,
  pathOf: (key: string, path: string) => string,
): Either.Either<DeviceConfig, ConfigError> => {
  const fail = (key: string, problem: string) =>
    Either.left(new ConfigError({ file, key, problem }));
  const { broker_host, client_id } = c.mqtt;
  if (!broker_host) return fail("mqtt.broker_host", "is required (or AWS_IOT_ENDPOINT)");
  if (!client_id) return fail("mqtt.client_id", "is required (or AWS_IOT_CLIENT_ID)");
  if (!c.mqtt.ca_cert) return fail("mqtt.ca_cert", "is required (or AWS_IOT_CA_PATH)");
  if (!c.mqtt.client_cert) return fail("mqtt.client_cert", "is required (or AWS_IOT_CERT_PATH)");
  if (!c.mqtt.client_key) return fail("mqtt.client_key", "is required (or AWS_IOT_KEY_PATH)");
  const ca_cert = pathOf("mqtt.ca_cert", c.mqtt.ca_cert);
  const client_cert = pathOf("mqtt.client_cert", c.mqtt.client_cert);
  const client_key = pathOf("mqtt.client_key", c.mqtt.client_key);
  const warnings = unknown.map((k) => `${file}: ${k}: unknown key, ignored`);

  let deviceId: string;
  let deviceIdSource: DeviceConfig["deviceIdSource"];
  if (c.device.device_id === "auto") {
    deviceIdSource = "auto";
    const idFile = pathOf("device.device_id_file", c.device.device_id_file);
    let stored: string | undefined;
    try {
      stored = fs.read(idFile)?.trim();
    } catch (e) {
      return fail("device.device_id_file", `cannot read ${idFile}: ${readProblem(e)}`);
    }
    if (stored) {
      deviceId = stored;
    } else {
      deviceId = newId();
      try {
        fs.write(idFile, `${deviceId}\n`);
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
  const id = deviceId as DeviceId;
  const whose = {
    client_id: "the client id",
    device_id: "device.device_id",
    auto: `device_id = "auto"`,
  }[deviceIdSource];
  /**
   * A template gives this device's topic. A topic written out in full, as the
   * older guide did, must be this device's own: its device level (the one
   * after the prefix) this device's id, and a topic an IoT policy bound to
   * that name lets it publish to.
   */
  const topicOf = (key: string, setting: string): Either.Either<string, ConfigError> => {
    if (setting.includes(DEVICE_ID_PLACEHOLDER)) return Either.right(topicFor(setting, id));
    const levels = setting.split("/");
    const prefixLevels = prefix.split("/").length;
    const named = setting.startsWith(`${prefix}/`) ? levels[prefixLevels] : undefined;
    if (named !== undefined && named !== id) {
      const template = [...levels.slice(0, prefixLevels), DEVICE_ID_PLACEHOLDER]
        .concat(levels.slice(prefixLevels + 1))
        .join("/");
      return fail(
        key,
        `"${setting}" names device "${named}" at the device level (the one after "${prefix}"), not this device (${id}, from ${whose}); an IoT policy bound to the thing name refuses another device's topics. Write "${template}", or this device's own topic`,
      );
    }
    if (named === undefined || !mayPublish(prefix, id, setting).allowed) {
      const own = devicePublishTopics(prefix, id).filter((t) => t.startsWith(`${prefix}/`));
      return fail(
        key,
        `"${setting}" is not a topic an IoT policy bound to the thing name lets ${id} publish to; with topic_prefix "${prefix}" those are ${own.join(", ")} (or write the topic with {device_id})`,
      );
    }
    return Either.right(setting);
  };
  const topics = Either.all({
    sensorData: topicOf(
      "mqtt.topics.sensor_data",
      c.mqtt.topics.sensor_data ?? templates.sensorData,
    ),
    status: topicOf("mqtt.topics.status", c.mqtt.topics.status ?? templates.status),
    deviceInfo: topicOf(
      "mqtt.topics.device_info",
      c.mqtt.topics.device_info ?? templates.deviceInfo,
    ),
  });
  if (Either.isLeft(topics)) return Either.left(topics.left);
  /**
   * Basic Ingest puts `$aws/rules/{rule}/` before the topic the rule would
   * otherwise get (https://docs.aws.amazon.com/iot/latest/developerguide/iot-basic-ingest.html);
   * the policy grants that for the device's own sensor data only.
   */
  const rule = c.publish.basic_ingest_rule ?? null;
  let sensorData = topics.right.sensorData;
  if (rule !== null) {
    sensorData = basicIngestTopic(rule, topics.right.sensorData);
    if (!mayPublish(prefix, id, sensorData, [rule]).allowed)
      return fail(
        "publish.basic_ingest_rule",
        `Basic Ingest carries only this device's sensor data on its standard topic (${topicFor(templates.sensorData, id)}, the one an IoT policy grants behind $aws/rules/${rule}/), not "${topics.right.sensorData}" (mqtt.topics.sensor_data)`,
      );
  }

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
    deviceId: id,
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
      ...topics.right,
      sensorData,
      basicIngestRule: rule,
      commands: `${topicFor(templates.commands, id)}/#`,
      commandResponse: topicFor(templates.commandResponse, id),
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
    shadow: { enabled: c.shadow.enabled },
    outbox: {
      path: pathOf("outbox.path", c.outbox.path),
      maxBytes: c.outbox.max_bytes,
      durability: c.outbox.durability,
    },
    jobs: {
      enabled: c.jobs.enabled,
      updateCaFile:
        c.jobs.update_ca_file === undefined
          ? null
          : pathOf("jobs.update_ca_file", c.jobs.update_ca_file),
      updateConfirmMs: c.jobs.update_confirm_s * 1000,
      updateMaxBytes: c.jobs.update_max_bytes,
      updateDownloadMs: c.jobs.update_download_s * 1000,
    },
    warnings,
  });
};

/** The file's `[mqtt]` table with the environment's values in place of its own. */
const applyEnv = (
  raw: Record<string, unknown>,
  overrides: ReadonlyArray<readonly [string, string]>,
) => {
  const mqtt = { ...((raw.mqtt as Record<string, unknown> | undefined) ?? {}) };
  for (const [key, value] of overrides) mqtt[key.slice("mqtt.".length)] = value;
  return { ...raw, mqtt };
};

/** An error's first line (OpenSSL's messages go on for several). */
export const firstLine = (e: unknown) =>
  (e instanceof Error ? e.message : String(e)).split("\n")[0] ?? "";

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
    `topics             ${c.topics.sensorData}${c.topics.basicIngestRule === null ? "" : ` (Basic Ingest: to rule ${c.topics.basicIngestRule} only, no messaging charge)`}, ${c.topics.status}, ${c.topics.deviceInfo}; commands ${c.topics.commands}`,
    `sensor             ${c.sensor.kind} at ${c.sensor.sampleRateHz} Hz${c.sensor.kind === "adxl345" ? ` (I2C bus ${c.sensor.i2cBus}, address 0x${c.sensor.i2cAddress.toString(16)})` : ` (seed ${c.sensor.seed})`}`,
    `publish            every ${c.publishIntervalMs} ms; status every ${c.statusIntervalMs} ms`,
    `shadow             ${c.shadow.enabled ? `synced ($aws/things/${c.deviceId}/shadow/…)` : "off (shadow.enabled = false): no desired settings, no reported state"}`,
    `outbox             ${c.outbox.path} (max ${c.outbox.maxBytes} bytes, durability ${c.outbox.durability})`,
    `location           ${c.device.location || "(not set)"}`,
    `jobs               ${c.jobs.enabled ? `AWS IoT Jobs on (agent.update: at most ${c.jobs.updateMaxBytes} bytes in ${c.jobs.updateDownloadMs / 1000} s, trusting the system CAs${c.jobs.updateCaFile === null ? "" : ` and ${c.jobs.updateCaFile}`}; a new bundle must connect within ${c.jobs.updateConfirmMs / 1000} s)` : "off (jobs.enabled = false)"}`,
    ...c.warnings.map((w) => `warning: ${w}`),
  ].join("\n");
