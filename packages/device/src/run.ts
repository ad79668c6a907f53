import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { connectTransport, type MqttTransport } from "@medusa/adapters/mqtt";
import { openOutbox } from "@medusa/adapters/outbox";
import { type MotionSensor, openAdxl345, SyntheticSensor } from "@medusa/adapters/sensor";
import { Either, Schema } from "effect";
import { Agent, type SequenceStore } from "./agent.js";
import type { DeviceConfig } from "./config.js";
import { readTlsFiles } from "./tls-files.js";

export const FIRMWARE_VERSION = "0.1.0";

/** One log line as JSON (journald and the local stack both read it). */
export type DeviceLog = (entry: Record<string, unknown>) => void;

export const jsonLog =
  (write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): DeviceLog =>
  (entry) =>
    write(JSON.stringify({ time: new Date().toISOString(), ...entry }));

export interface RunningDevice {
  readonly config: DeviceConfig;
  readonly agent: Agent;
  readonly transport: MqttTransport;
  /** Stops sampling, persists what is pending, disconnects cleanly. */
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly log?: DeviceLog;
  /** A sensor to use instead of the configured one (tests, the register-level simulator). */
  readonly sensor?: MotionSensor;
  readonly now?: () => number;
}

/** The sequence file cannot be trusted: starting anyway could give sent numbers to other samples. */
export class SequenceFileError extends Schema.TaggedError<SequenceFileError>()(
  "SequenceFileError",
  { path: Schema.String, problem: Schema.String },
) {
  override get message(): string {
    return `${this.path}: ${this.problem}. Not starting: a sequence number that was sent could be given to another sample. Write a number above the highest sequence the cloud has from this device into the file, or delete it to start again from 0`;
  }
}

/**
 * The next sequence number, in a file beside the outbox, replaced atomically.
 * No file is a first start (0); a file that cannot be read or holds no
 * number is a `SequenceFileError`, never a silent 0.
 */
export const fileSequenceStore = (path: string): SequenceStore => ({
  load: () => {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return 0;
      throw new SequenceFileError({
        path,
        problem: `cannot read the next sequence number: ${e instanceof Error ? e.message : String(e)}`,
      });
    }
    const trimmed = text.trim();
    const n = /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
    if (!Number.isSafeInteger(n))
      throw new SequenceFileError({
        path,
        problem: `holds ${JSON.stringify(trimmed.slice(0, 40))}, not the next sequence number`,
      });
    return n;
  },
  // Saved before a batch is appended, and synced: after a power loss the file
  // holds a number at least as high as any sample that reached the outbox.
  save: (next) => {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(`${path}.tmp`, "w");
    writeSync(fd, `${next}\n`);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(`${path}.tmp`, path);
    const dir = openSync(dirname(path), "r");
    fsyncSync(dir);
    closeSync(dir);
  },
});

const openSensor = async (config: DeviceConfig, now?: () => number): Promise<MotionSensor> =>
  config.sensor.kind === "synthetic"
    ? new SyntheticSensor(config.sensor.seed, now)
    : openAdxl345({ busNumber: config.sensor.i2cBus, address: config.sensor.i2cAddress });

/**
 * Composes the agent from its configuration: the sensor, the durable outbox,
 * MQTT over mutual TLS, and the sampling, publishing and status loops. The
 * agent is running when this resolves; it connects (and reconnects) on its own.
 */
export const startDevice = async (
  config: DeviceConfig,
  options: StartOptions = {},
): Promise<RunningDevice> => {
  const log = options.log ?? jsonLog();
  const tls = readTlsFiles(config);
  if (Either.isLeft(tls)) throw tls.left[0];
  const { ca, cert, key } = tls.right;
  // Before anything is opened: a sequence file that cannot be trusted stops the start.
  const sequenceFile = fileSequenceStore(join(config.outbox.path, "next-sequence"));
  const firstSequence = sequenceFile.load();
  const sensor = options.sensor ?? (await openSensor(config, options.now));
  const outbox = await openOutbox({
    dir: config.outbox.path,
    maxBytes: config.outbox.maxBytes,
    durability: config.outbox.durability,
    // A full or failing disk: the outbox keeps going and retries; the operator should know.
    onError: (e) =>
      log({
        level: "error",
        device_id: config.deviceId,
        component: "outbox",
        msg: e.message,
        error: e.name,
      }),
  });
  const transport = connectTransport({
    host: config.mqtt.host,
    port: config.mqtt.port,
    clientId: config.mqtt.clientId,
    ca,
    cert,
    key,
    protocolVersion: config.mqtt.protocolVersion,
    keepaliveS: config.mqtt.keepaliveS,
    backoff: config.mqtt.backoff,
    log: (entry) => log({ device_id: config.deviceId, component: "mqtt", ...entry }),
  });
  const agent = new Agent({
    config,
    sensor,
    outbox,
    transport,
    firmwareVersion: FIRMWARE_VERSION,
    sequence: { load: () => firstSequence, save: (next) => sequenceFile.save(next) },
    log: (msg) => log({ level: "info", device_id: config.deviceId, msg }),
    ...(options.now ? { now: options.now } : {}),
  });
  await agent.start();
  log({
    level: "info",
    msg: "medusa-device started",
    device_id: config.deviceId,
    broker: `${config.mqtt.host}:${config.mqtt.port}`,
    sensor: config.sensor.kind,
    sample_rate_hz: config.sensor.sampleRateHz,
    outbox_depth: outbox.stats().depth,
  });
  let stopping: Promise<void> | undefined;
  return {
    config,
    agent,
    transport,
    stop: () => {
      stopping ??= agent
        .stop()
        .then(() =>
          log({ level: "info", msg: "medusa-device stopped", device_id: config.deviceId }),
        );
      return stopping;
    },
  };
};
