import { Either, Predicate } from "effect";
import { type ConfigError, configPath, describeConfig, loadConfig } from "./config.js";
import { FIRMWARE_VERSION, jsonLog, startDevice } from "./run.js";
import type { SequenceFileError } from "./sequence.js";
import { readTlsFiles } from "./tls-files.js";

const USAGE = `usage: medusa-device [--config PATH] [--check]

  --config PATH   the configuration file (default: $MEDUSA_CONFIG, else /etc/medusa/mqtt_publisher.toml)
  --check         print the resolved configuration (no secrets) and exit
  --version       print the firmware version and exit`;

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
      !["--config", "--check"].includes(a) &&
      !a.startsWith("--config=") &&
      argv[i - 1] !== "--config",
  );
  if (unknown.length > 0) {
    console.error(`medusa-device: unknown argument ${unknown[0]}\n${USAGE}`);
    return 2;
  }
  const loaded = loadConfig(configPath(argv, env), { env });
  if (Either.isLeft(loaded)) {
    console.error(`medusa-device: ${loaded.left.message}`);
    return 2;
  }
  const config = loaded.right;
  for (const warning of config.warnings) console.error(`medusa-device: warning: ${warning}`);
  if (argv.includes("--check")) {
    console.log(describeConfig(config));
    // As the agent will read them: as this user, and each must parse.
    const tls = readTlsFiles(config);
    if (Either.isRight(tls)) return 0;
    for (const problem of tls.left) console.error(`medusa-device: ${problem.message}`);
    return 2;
  }
  const log = jsonLog();
  let device: Awaited<ReturnType<typeof startDevice>>;
  try {
    device = await startDevice(config, { log });
  } catch (e) {
    console.error(`medusa-device: ${isFileProblem(e) ? e.message : String(e)}`);
    return Predicate.isTagged(e, "ConfigError") ? 2 : 1;
  }
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
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
