import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { IoTClient } from "@aws-sdk/client-iot";
import {
  CLAIM_CLIENT_ID_PREFIX,
  DEFAULT_TOPIC_PREFIX,
  isClaimClientId,
  MAX_PUBLISH_INTERVAL_MS,
  MIN_PUBLISH_INTERVAL_MS,
  RuleName,
} from "@medusa/domain";
import { Schema } from "effect";
import { type CommandOf, type CommandOutput, processOutput, runCommand } from "../command-line.js";
import { DEVICE_POLICY_PARTS } from "../iot.js";
import { devicePolicyNames, STAGES, type Stage, sensorRuleName } from "../settings.js";
import {
  DEFAULT_DEVICE_DIR,
  DEFAULT_PUBLISH_INTERVAL_MS,
  deviceFiles,
  type RegisterDeviceOptions,
  registerDevice,
} from "./register-device.js";

export const USAGE = `Usage: register-device --thing NAME [options]

Registers one device with AWS IoT Core (the account and region of your AWS
credentials): creates the thing and a certificate, attaches the stack's device
policies and the thing, and writes the certificate files and a ready
mqtt_publisher.toml. A failure half-way undoes what was done.

  --thing NAME         thing name = device id = MQTT client id (required)
  --stage dev|prod     which stack's policies to attach (default dev)
  --policy NAME        a policy by name instead, repeated for each (default the stage's three:
                       medusa-<stage>-device, medusa-<stage>-device-shadow, medusa-<stage>-device-jobs)
  --csr FILE           sign this CSR made on the device: the private key never leaves it
  --out DIR            where to write the files (default ./<thing>)
  --topic-prefix P     the stack's topic prefix (default ${DEFAULT_TOPIC_PREFIX})
  --device-dir DIR     where the files will be on the device (default ${DEFAULT_DEVICE_DIR})
  --device-key PATH    the key's path on the device (default <device-dir>/<thing>.private.key)
  --sample-rate HZ     sensor.sample_rate_hz (default 10)
  --publish-interval-ms MS
                       publish.interval_ms: one message per interval (default ${DEFAULT_PUBLISH_INTERVAL_MS})
  --basic-ingest-rule NAME
                       send sensor data to this IoT rule with Basic Ingest, no messaging
                       charge (default medusa_<stage>_sensor_data, the stack's rule)
  --plain-topic        send sensor data on <prefix>/<thing>/sensor/data instead
  --location TEXT      device.location
  --region REGION      AWS region (default: AWS_REGION / your profile)
  --overwrite          replace files already in --out
  -h, --help           this text
`;

const isRuleName = Schema.is(RuleName);

export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The command line as options; a bad one is a `UsageError` naming it. */
export const parseCommandLine = (
  argv: ReadonlyArray<string>,
  readFile: (path: string) => string = (p) => readFileSync(p, "utf8"),
): { help: true } | { help: false; region?: string; options: RegisterDeviceOptions } => {
  let values: ReturnType<typeof parse>["values"];
  try {
    values = parse(argv).values;
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  if (values.help) return { help: true };
  const thingName = values.thing;
  if (!thingName) throw new UsageError("--thing is required");
  if (isClaimClientId(thingName))
    throw new UsageError(
      `--thing ${thingName}: names starting ${CLAIM_CLIENT_ID_PREFIX} are the client ids of devices still on a claim certificate (fleet provisioning), not things`,
    );
  const stage = values.stage ?? "dev";
  if (!STAGES.includes(stage as Stage))
    throw new UsageError(`--stage ${stage}: one of ${STAGES.join(", ")}`);
  const sampleRateHz = values["sample-rate"] === undefined ? 10 : Number(values["sample-rate"]);
  if (!Number.isFinite(sampleRateHz) || sampleRateHz <= 0)
    throw new UsageError(`--sample-rate ${values["sample-rate"]}: a positive number`);
  const publishIntervalMs =
    values["publish-interval-ms"] === undefined
      ? DEFAULT_PUBLISH_INTERVAL_MS
      : Number(values["publish-interval-ms"]);
  if (
    !Number.isInteger(publishIntervalMs) ||
    publishIntervalMs < MIN_PUBLISH_INTERVAL_MS ||
    publishIntervalMs > MAX_PUBLISH_INTERVAL_MS
  )
    throw new UsageError(
      `--publish-interval-ms ${values["publish-interval-ms"]}: whole milliseconds, ${MIN_PUBLISH_INTERVAL_MS}-${MAX_PUBLISH_INTERVAL_MS}`,
    );
  if (values["plain-topic"] && values["basic-ingest-rule"] !== undefined)
    throw new UsageError("--plain-topic and --basic-ingest-rule: choose one");
  const basicIngestRule = values["plain-topic"]
    ? null
    : (values["basic-ingest-rule"] ?? sensorRuleName(stage as Stage));
  if (basicIngestRule !== null && !isRuleName(basicIngestRule))
    throw new UsageError(
      `--basic-ingest-rule ${basicIngestRule}: an AWS IoT rule name, 1-128 characters of [a-zA-Z0-9_]`,
    );
  let csrPem: string | undefined;
  if (values.csr !== undefined) {
    try {
      csrPem = readFile(values.csr);
    } catch (e) {
      throw new UsageError(`--csr ${values.csr}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!csrPem.includes("BEGIN CERTIFICATE REQUEST"))
      throw new UsageError(`--csr ${values.csr}: not a PEM certificate signing request`);
  }
  return {
    help: false,
    ...(values.region ? { region: values.region } : {}),
    options: {
      thingName,
      policyNames:
        values.policy ?? DEVICE_POLICY_PARTS.map((part) => devicePolicyNames(stage as Stage)[part]),
      outDir: resolve(values.out ?? thingName),
      ...(csrPem ? { csrPem } : {}),
      topicPrefix: values["topic-prefix"] ?? DEFAULT_TOPIC_PREFIX,
      ...(values["device-dir"] ? { deviceDir: values["device-dir"] } : {}),
      ...(values["device-key"] ? { deviceKeyPath: values["device-key"] } : {}),
      sampleRateHz,
      publishIntervalMs,
      basicIngestRule,
      ...(values.location !== undefined ? { location: values.location } : {}),
      overwrite: values.overwrite ?? false,
    },
  };
};

const parse = (argv: ReadonlyArray<string>) =>
  parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      thing: { type: "string" },
      stage: { type: "string" },
      policy: { type: "string", multiple: true },
      csr: { type: "string" },
      out: { type: "string" },
      "topic-prefix": { type: "string" },
      "device-dir": { type: "string" },
      "device-key": { type: "string" },
      "sample-rate": { type: "string" },
      "publish-interval-ms": { type: "string" },
      "basic-ingest-rule": { type: "string" },
      "plain-topic": { type: "boolean" },
      location: { type: "string" },
      region: { type: "string" },
      overwrite: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });

/** Runs the command; returns the exit code (0 done, 1 AWS failure, 2 usage). */
export const main = (
  argv: ReadonlyArray<string>,
  io: CommandOutput & {
    readonly client?: (region: string | undefined) => IoTClient;
  } = processOutput,
): Promise<number> =>
  runCommand<CommandOf<typeof parseCommandLine>>(io, {
    usage: USAGE,
    parse: () => parseCommandLine(argv),
    run: (parsed) => register(parsed, io),
  });

const register = async (
  parsed: CommandOf<typeof parseCommandLine>,
  io: CommandOutput & { readonly client?: (region: string | undefined) => IoTClient },
): Promise<number> => {
  const { options } = parsed;
  const iot = (io.client ?? ((region) => new IoTClient(region ? { region } : {})))(parsed.region);
  try {
    const r = await registerDevice(iot, options, { log: (l) => io.out(`${l}\n`) });
    const files = deviceFiles(r.thingName);
    const deviceDir = options.deviceDir ?? DEFAULT_DEVICE_DIR;
    io.out(
      [
        "",
        `registered ${r.thingName}${r.thingCreated ? "" : " (existing thing)"}`,
        `  certificate  ${r.certificateId} (active, policies ${options.policyNames.join(", ")})`,
        `  endpoint     ${r.endpoint}`,
        `  sensor data  ${options.basicIngestRule === null ? `${options.topicPrefix ?? DEFAULT_TOPIC_PREFIX}/${r.thingName}/sensor/data` : `Basic Ingest to rule ${options.basicIngestRule}`}, every ${(options.publishIntervalMs ?? DEFAULT_PUBLISH_INTERVAL_MS) / 1000} s`,
        `  files        ${r.files.join("\n               ")}`,
        "",
        "On the device:",
        `  sudo mkdir -p ${deviceDir}`,
        `  sudo cp ${files.certificate} ${files.ca}${options.csrPem ? "" : ` ${files.privateKey}`} ${deviceDir}/`,
        ...(options.csrPem ? [] : [`  sudo chmod 600 ${deviceDir}/${files.privateKey}`]),
        `  sudo cp ${files.config} /etc/medusa/mqtt_publisher.toml`,
        "",
      ].join("\n"),
    );
    return 0;
  } finally {
    iot.destroy();
  }
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
