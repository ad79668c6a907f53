import { connectOnce, isTransportError, type TransportError } from "@medusa/adapters/mqtt";
import { Either, Match, Predicate } from "effect";
import {
  appliedSettingsPath,
  describeAppliedSettings,
  readAppliedSettings,
} from "./applied-settings.js";
import {
  type ConfigError,
  configPath,
  type DeviceConfig,
  describeConfig,
  loadConfig,
} from "./config.js";
import { firstBoot } from "./first-boot.js";
import { describeUpdate } from "./job-executors.js";
import { FIRMWARE_VERSION, jsonLog, startDevice, transportOptions } from "./run.js";
import type { SequenceFileError } from "./sequence.js";
import { readTlsFiles, type TlsFiles } from "./tls-files.js";

/** How long `--check --connect` waits for CONNACK, at most. */
export const CHECK_CONNECT_TIMEOUT_MS = 10_000;

const USAGE = `usage: medusa-device [--config PATH] [--check [--connect]]

  --config PATH   the configuration file (default: $MEDUSA_CONFIG, else /etc/medusa/mqtt_publisher.toml)
  --check         print the resolved configuration (no secrets), check the certificate files, and exit
  --connect       with --check: also connect to the broker once (at most ${CHECK_CONNECT_TIMEOUT_MS / 1000} s) and say
                  which side refused what; exit 1 if the connection fails
  --version       print the firmware version and exit`;

/** The keys (and their values) to look at for a refused or failed connection. */
const suspects = (c: DeviceConfig, e: TransportError): string =>
  Match.value(e).pipe(
    Match.tagsExhaustive({
      BrokerNotTrusted: () => `mqtt.ca_cert ${c.mqtt.caPath}, mqtt.broker_host ${c.mqtt.host}`,
      TlsRejected: () => `mqtt.client_cert ${c.mqtt.certPath}, mqtt.client_key ${c.mqtt.keyPath}`,
      NotAuthorized: () => `mqtt.client_id ${c.mqtt.clientId}`,
      BrokerUnreachable: () => `mqtt.broker_host ${c.mqtt.host}, mqtt.broker_port ${c.mqtt.port}`,
      ConnectionFailed: () => `mqtt.broker_host ${c.mqtt.host}, mqtt.broker_port ${c.mqtt.port}`,
      NotConnected: () => `mqtt.broker_host ${c.mqtt.host}, mqtt.broker_port ${c.mqtt.port}`,
    }),
  );

/** `--check --connect`: one real connection, as the agent makes it; 0 when CONNACK came, else 1. */
const checkConnection = async (config: DeviceConfig, tls: TlsFiles): Promise<number> => {
  const broker = `mqtts://${config.mqtt.host}:${config.mqtt.port} as ${config.mqtt.clientId}`;
  try {
    const ms = await connectOnce(transportOptions(config, tls), CHECK_CONNECT_TIMEOUT_MS);
    console.log(`connection         ${broker}: connected, CONNACK after ${ms} ms`);
    return 0;
  } catch (e) {
    const why = isTransportError(e) ? `${e.message} [${suspects(config, e)}]` : String(e);
    console.error(`medusa-device: ${config.file}: connecting to ${broker} failed: ${why}`);
    return 1;
  }
};

/** A problem the operator fixes in a file: shown as it is, without its kind. */
const isFileProblem = (e: unknown): e is ConfigError | SequenceFileError =>
  Predicate.isTagged(e, "ConfigError") || Predicate.isTagged(e, "SequenceFileError");

/** The `medusa-device` command. Resolves to the exit code. */
export const main = async (
  argv: ReadonlyArray<string> = process.argv.slice(2),
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<number> => {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  if (argv.includes("--version")) {
    console.log(FIRMWARE_VERSION);
    return 0;
  }
  const unknown = argv.filter(
    (a, i) =>
      !["--config", "--check", "--connect"].includes(a) &&
      !a.startsWith("--config=") &&
      argv[i - 1] !== "--config",
  );
  if (unknown.length > 0) {
    console.error(`medusa-device: unknown argument ${unknown[0]}\n${USAGE}`);
    return 2;
  }
  const file = configPath(argv, env);
  const log = jsonLog();
  let bootEnv = env;
  try {
    // With a [provisioning] table: first boot by claim (or the identity it stored).
    bootEnv = await firstBoot(file, env, { log, lookOnly: argv.includes("--check") });
  } catch (e) {
    console.error(`medusa-device: ${e instanceof Error ? e.message : String(e)}`);
    return Predicate.isTagged(e, "ConfigError") ? 2 : 1;
  }
  const loaded = loadConfig(file, { env: bootEnv });
  if (Either.isLeft(loaded)) {
    console.error(`medusa-device: ${loaded.left.message}`);
    return 2;
  }
  const config = loaded.right;
  for (const warning of config.warnings) console.error(`medusa-device: warning: ${warning}`);
  if (argv.includes("--connect") && !argv.includes("--check")) {
    console.error(`medusa-device: --connect goes with --check\n${USAGE}`);
    return 2;
  }
  if (argv.includes("--check")) {
    console.log(describeConfig(config));
    const settingsPath = appliedSettingsPath(config);
    for (const line of describeAppliedSettings(
      config,
      settingsPath,
      readAppliedSettings(settingsPath),
      Date.now(),
    ))
      console.log(line);
    const update = describeUpdate(env.MEDUSA_BUNDLE);
    if (update !== undefined) console.log(update);
    // As the agent will read them: as this user, and each must parse.
    const tls = readTlsFiles(config);
    if (Either.isLeft(tls)) {
      for (const problem of tls.left) console.error(`medusa-device: ${problem.message}`);
      return 2;
    }
    return argv.includes("--connect") ? checkConnection(config, tls.right) : 0;
  }
  let device: Awaited<ReturnType<typeof startDevice>>;
  let stop: (why: string) => void = () => {};
  try {
    // A job's restart (agent.restart, agent.update): a clean stop, exit 0, and systemd starts it again.
    device = await startDevice(config, { log, restart: (reason) => stop(reason) });
  } catch (e) {
    console.error(`medusa-device: ${isFileProblem(e) ? e.message : String(e)}`);
    return Predicate.isTagged(e, "ConfigError") ? 2 : 1;
  }
  return new Promise<number>((resolve) => {
    stop = (signal: string) => {
      stop = () => {};
      log({ level: "info", msg: `${signal}: stopping`, device_id: config.deviceId });
      device.stop().then(
        () => resolve(0),
        (e) => {
          console.error(`medusa-device: stopping failed: ${String(e)}`);
          resolve(1);
        },
      );
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
};
