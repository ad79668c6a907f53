import { join } from "node:path";
import {
  MqttConnection,
  type MqttConnectionService,
  mqttConnectionLayer,
  type TransportOptions,
} from "@medusa/adapters/mqtt";
import { journalLayer, outboxLayer, SampleJournal, SampleOutbox } from "@medusa/adapters/outbox";
import {
  adxl345Layer,
  MotionSensor,
  type MotionSensorService,
  motionSensorLayer,
  type SensorError,
  syntheticSensorLayer,
} from "@medusa/adapters/sensor";
import { Cause, Effect, Either, Exit, Layer, ManagedRuntime } from "effect";
import { Agent, type AgentOptions, type AgentPorts } from "./agent.js";
import {
  appliedSettingsPath,
  readAppliedSettings,
  withAppliedSettings,
} from "./applied-settings.js";
import { recoverCertificateFiles } from "./certificate-rotation.js";
import type { DeviceConfig } from "./config.js";
import type { JobsClientOptions } from "./jobs-client.js";
import { type SequenceFileError, SequenceStore, sequenceFileLayer } from "./sequence.js";
import type { ShadowSyncOptions } from "./shadow-sync.js";
import { readTlsFiles, type TlsFiles } from "./tls-files.js";

/** Set by the bundler (`scripts/bundle.mjs`, `version`); the sources run as 0.1.0. */
declare const __MEDUSA_AGENT_VERSION__: string | undefined;
export const FIRMWARE_VERSION: string =
  typeof __MEDUSA_AGENT_VERSION__ === "string" ? __MEDUSA_AGENT_VERSION__ : "0.1.0";

/** One log line as JSON (journald and the local stack both read it). */
export type DeviceLog = (entry: Record<string, unknown>) => void;

export const jsonLog =
  (write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): DeviceLog =>
  (entry) =>
    write(JSON.stringify({ time: new Date().toISOString(), ...entry }));

/** The agent's ports as layers (`deviceLayer` for a device, fakes in tests). */
export type AgentLayer<E> = Layer.Layer<
  MotionSensor | SampleOutbox | SampleJournal | MqttConnection | SequenceStore,
  E
>;

/** The agent's settings besides its ports. */
export type AgentSettings = Omit<AgentOptions, keyof AgentPorts>;

export interface RunningAgent {
  readonly agent: Agent;
  readonly ports: AgentPorts;
  /** Stops the agent (see `Agent.stop`), then closes its ports. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Builds the ports, then constructs and starts the agent on them. A port that
 * cannot be opened rejects with its error, after closing those already open;
 * `stop` closes them, in the reverse order of opening, after the agent stopped.
 */
export const launchAgent = async <E>(
  layer: AgentLayer<E>,
  settings: AgentSettings,
): Promise<RunningAgent> => {
  const runtime = ManagedRuntime.make(layer);
  const opened = await runtime.runPromiseExit(
    Effect.all({
      sensor: MotionSensor,
      outbox: SampleOutbox,
      journal: SampleJournal,
      transport: MqttConnection,
      sequence: SequenceStore,
    }),
  );
  if (Exit.isFailure(opened)) {
    await runtime.dispose();
    throw Cause.squash(opened.cause);
  }
  const ports = opened.value;
  const agent = new Agent({ ...settings, ...ports });
  try {
    await agent.start();
  } catch (e) {
    await runtime.dispose();
    throw e;
  }
  return {
    agent,
    ports,
    stop: async (graceMs) => {
      try {
        await agent.stop(graceMs);
      } finally {
        await runtime.dispose();
      }
    },
  };
};

/** How the device connects: its broker, identity, certificates and timings. */
export const transportOptions = (config: DeviceConfig, tls: TlsFiles): TransportOptions => ({
  host: config.mqtt.host,
  port: config.mqtt.port,
  clientId: config.mqtt.clientId,
  ...tls,
  protocolVersion: config.mqtt.protocolVersion,
  keepaliveS: config.mqtt.keepaliveS,
  backoff: config.mqtt.backoff,
});

export interface StartOptions {
  readonly log?: DeviceLog;
  /** A sensor to use instead of the configured one (tests, the register-level simulator). */
  readonly sensor?: MotionSensorService;
  readonly now?: () => number;
  /** The shadow sync's timings (tests). */
  readonly shadow?: Partial<Pick<ShadowSyncOptions, "timeoutMs" | "reportEveryMs" | "retryMs">>;
  /**
   * A job asks for a restart (agent.restart, agent.update): stop the agent so
   * that it starts again. Without it, such jobs are not run (the agent stays up).
   */
  readonly restart?: (reason: string) => void;
  /** The bundle the launcher runs (default: `MEDUSA_BUNDLE`, which the launcher sets). */
  readonly bundle?: string;
  /** The Jobs client's timings (tests). */
  readonly jobs?: Partial<
    Pick<
      JobsClientOptions,
      "timeoutMs" | "stepTimeoutMinutes" | "stepBudgetMs" | "retryMs" | "throttleBaseMs"
    >
  > & { readonly flushWaitMs?: number };
}

/**
 * The device's ports from its configuration, opened in this order (and closed
 * in the reverse one): the sequence file (a file that cannot be trusted stops
 * the start before anything else is opened), the sensor, the durable outbox,
 * the journal beside it, MQTT over mutual TLS (a clean DISCONNECT first, so that the PUBACKs it waits
 * for still reach the outbox).
 */
const deviceLayer = (
  config: DeviceConfig,
  tls: TlsFiles,
  log: DeviceLog,
  options: StartOptions,
): AgentLayer<SequenceFileError | SensorError> => {
  const sensor = options.sensor
    ? motionSensorLayer(Effect.succeed(options.sensor))
    : config.sensor.kind === "synthetic"
      ? syntheticSensorLayer(config.sensor.seed, options.now)
      : adxl345Layer({ busNumber: config.sensor.i2cBus, address: config.sensor.i2cAddress });
  const outbox = outboxLayer({
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
  const mqtt = mqttConnectionLayer({
    ...transportOptions(config, tls),
    log: (entry) => log({ device_id: config.deviceId, component: "mqtt", ...entry }),
  });
  const journal = journalLayer({
    path: join(config.outbox.path, "journal"),
    durability: config.outbox.durability,
  });
  return mqtt.pipe(
    Layer.provideMerge(journal),
    Layer.provideMerge(outbox),
    Layer.provideMerge(sensor),
    Layer.provideMerge(sequenceFileLayer(join(config.outbox.path, "next-sequence"))),
  );
};

const bundleOf = (options: StartOptions): { bundle?: string } => {
  const bundle = options.bundle ?? process.env.MEDUSA_BUNDLE;
  return bundle ? { bundle } : {};
};

export interface RunningDevice {
  readonly config: DeviceConfig;
  readonly agent: Agent;
  readonly transport: MqttConnectionService;
  /** Stops sampling, persists what is pending, disconnects cleanly. */
  stop(): Promise<void>;
}

/**
 * Composes the agent from its configuration: the sensor, the durable outbox,
 * MQTT over mutual TLS, and the sampling, publishing and status loops. The
 * agent is running when this resolves; it connects (and reconnects) on its own.
 */
export const startDevice = async (
  fileConfig: DeviceConfig,
  options: StartOptions = {},
): Promise<RunningDevice> => {
  const log = options.log ?? jsonLog();
  // A certificate rotation cut off between its two renames is completed first.
  recoverCertificateFiles(fileConfig.mqtt.certPath, fileConfig.mqtt.keyPath, (msg) =>
    log({ level: "warn", msg }),
  );
  const tls = readTlsFiles(fileConfig);
  if (Either.isLeft(tls)) throw tls.left[0];
  // Settings taken from the shadow before win over the file's for the fields they set.
  const settingsPath = appliedSettingsPath(fileConfig);
  const applied = readAppliedSettings(settingsPath);
  if (applied.problem !== undefined)
    log({ level: "warn", device_id: fileConfig.deviceId, msg: applied.problem });
  const config = withAppliedSettings(fileConfig, applied.settings);
  const running = await launchAgent(deviceLayer(config, tls.right, log, options), {
    config,
    shadow: { appliedSettingsPath: settingsPath, applied: applied.settings, ...options.shadow },
    jobs: {
      reportPath: join(config.outbox.path, "job-report.json"),
      restart:
        options.restart ??
        ((reason) =>
          log({
            level: "warn",
            device_id: config.deviceId,
            msg: `${reason}: a restart was asked for, but nothing restarts this agent`,
          })),
      ...bundleOf(options),
      ...options.jobs,
    },
    firmwareVersion: FIRMWARE_VERSION,
    log: (msg) => log({ level: "info", device_id: config.deviceId, msg }),
    ...(options.now ? { now: options.now } : {}),
  });
  log({
    level: "info",
    msg: "medusa-device started",
    device_id: config.deviceId,
    broker: `${config.mqtt.host}:${config.mqtt.port}`,
    sensor: config.sensor.kind,
    sample_rate_hz: config.sensor.sampleRateHz,
    version: FIRMWARE_VERSION,
    jobs: config.jobs.enabled,
    outbox_depth: running.ports.outbox.stats().depth,
  });
  let stopping: Promise<void> | undefined;
  return {
    config,
    agent: running.agent,
    transport: running.ports.transport,
    stop: () => {
      stopping ??= running
        .stop()
        .then(() =>
          log({ level: "info", msg: "medusa-device stopped", device_id: config.deviceId }),
        );
      return stopping;
    },
  };
};
