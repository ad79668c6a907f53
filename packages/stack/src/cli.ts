import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { InvalidBundle, putBundle } from "./bundles.js";
import { InvalidClaimRequest, issueClaim, issuedClaimReport } from "./issue-claim.js";
import { InvalidDeviceId, issueDevice, issuedReport, shellWord } from "./issue-device.js";
import { type Stack, StartAborted, startStack } from "./stack.js";
import { reportParked } from "./status.js";

const USAGE = `usage: medusa-stack [options]
       medusa-stack issue-device ID [--out DIR] [--dir PATH] [--mqtt-port P] [--host H]
       medusa-stack issue-claim --batch NAME [--serial S] [--out DIR] [--dir PATH] [--mqtt-port P] [--host H]
       medusa-stack put-bundle FILE [--key K] [--version V] [--dir PATH]

Runs MeDUSA Link on this machine: DynamoDB Local, a TLS MQTT broker, ingest,
the API and simulated devices. Data and certificates are kept in --dir.
A port of 0 takes a free one (the report says which).

  --devices N           simulated devices (default 3; 0 for none)
  --rate HZ             their sample rate (default 10)
  --api-port PORT       the API (default 8080)
  --mqtt-port PORT      MQTT over TLS (default 8883)
  --dynamo-port PORT    DynamoDB Local (default 8000)
  --bundle-port PORT    the agent-bundle bucket's presigned GETs over TLS (default: any free port)
  --plain-mqtt-port P   also a plain MQTT listener on 127.0.0.1 for local tools (off by default)
  --gap-seconds S       an assigned device silent this long gets a data-gap alert (default 600)
  --gap-check-seconds S how often the gap detector runs (default a tenth of the gap, 1 to 30)
  --dir PATH            where data lives (default .medusa)
  --verbose             every log line (JSON), not only warnings
  --help

issue-device ID: a certificate and key for device ID from the development CA
in --dir (made if missing), with the CA and an agent configuration, written
to --out; prints a mosquitto_pub line and the agent command. Starts nothing.

issue-claim --batch NAME: the claim certificate of a production batch from the
development CA (held to the claim policy by the broker), with the CA and an
agent configuration that provisions itself on first boot, written to --out.

put-bundle FILE: puts an agent bundle into the stack's agent-bundle bucket and
prints its key, its sha256 and the agent.update job that installs it.`;

const PUT_BUNDLE_USAGE = `usage: medusa-stack put-bundle FILE [options]

Puts the one-file agent bundle FILE (pnpm --filter @medusa/device bundle) into
the local stack's agent-bundle bucket (medusa-local-agent-bundles, a folder
under --dir; a running stack serves it at once) and prints its key, its sha256
and the agent.update job that installs it: the API's request, and the job
document AWS IoT Jobs delivers, whose presigned-URL placeholder becomes a
presigned GET of the bucket each time a device gets the document.

  --key K               its key in the bucket (default agent/VERSION/FILE-NAME)
  --version V           its version (default: asked of the bundle, node FILE --version)
  --dir PATH            the stack's data folder (default .medusa)
  --help`;

const CLAIM_USAGE = `usage: medusa-stack issue-claim --batch NAME [options]

Issues the claim certificate of production batch NAME from the local stack's
development CA (once; issuing again gives the same one) and writes ca.pem,
claim.cert.pem, claim.key.pem and medusa-device.toml, whose [provisioning]
table makes the agent provision itself by claim on first boot (fleet
provisioning with template medusa-local-fleet; its serial must be on the
allow-list). The stack's broker lets the certificate do nothing else.
Starts nothing; a running stack takes a new claim certificate at once.

  --batch NAME          the batch (1-64 of [A-Za-z0-9._-])
  --serial S            the device's serial number for the configuration
                        (default: the agent reads /proc/cpuinfo, as on a Pi)
  --out DIR             where the files go (default issued/claim-NAME in the data folder)
  --dir PATH            the stack's data folder, whose CA signs (default .medusa)
  --mqtt-port PORT      the broker's port, for the configuration (default 8883)
  --host HOST           the broker's host, for the configuration (default 127.0.0.1)
  --help`;

const ISSUE_USAGE = `usage: medusa-stack issue-device ID [options]

Issues a certificate and key for device ID (an AWS IoT thing name) from the
local stack's development CA, and writes ca.pem, ID.cert.pem, ID.key.pem and
medusa-device.toml (the agent's configuration, paths relative to its folder).
Starts nothing; the same CA signs for the stack, so they stay valid across runs.

  --out DIR             where the files go (default issued/ID in the data folder)
  --dir PATH            the stack's data folder, whose CA signs (default .medusa)
  --mqtt-port PORT      the broker's port, for the configuration (default 8883)
  --host HOST           the broker's host, for the configuration (default 127.0.0.1)
  --help`;

const int = (value: string | undefined, name: string, fallback: number, min = 0, max = 65535) => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new RangeError(`--${name} ${value}: must be a whole number from ${min} to ${max}`);
  return n;
};

/** With no simulated devices: how to give one of your own a certificate for this stack. */
const issueHint = (stack: Pick<Stack, "dir" | "mqttPort">) => {
  const options = [
    ...(stack.mqttPort !== 8883 ? [`--mqtt-port ${stack.mqttPort}`] : []),
    ...(stack.dir !== resolve(".medusa") ? [`--dir ${shellWord(stack.dir)}`] : []),
  ];
  return `No simulated devices. A certificate and configuration for a device of your own:
  npm start -- issue-device medusa-pi-01${options.map((o) => ` ${o}`).join("")}

`;
};

export const curlExamples = (stack: Pick<Stack, "apiUrl" | "deviceIds">) => {
  const device = stack.deviceIds[0] ?? "medusa-pi-01";
  return `Assign the first device to a patient:
  curl -s -X POST ${stack.apiUrl}/api/devices/assign \\
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
    -d '{"device_id":"${device}","patient_id":"P-001","patient_name":"Test Patient"}'

Read the patient's last minute (times are epoch milliseconds):
  curl -s "${stack.apiUrl}/api/patients/P-001/sensor-data?start_time=$(( $(date +%s) * 1000 - 60000 ))&end_time=$(( $(date +%s) * 1000 ))&limit=20" \\
    -H "Authorization: Bearer $TOKEN"`;
};

/** The `medusa-stack` command; resolves to the exit code once stopped. */
export const main = async (
  argv: ReadonlyArray<string> = process.argv.slice(2),
): Promise<number> => {
  if (argv[0] === "issue-device") return issueDeviceCommand(argv.slice(1));
  if (argv[0] === "issue-claim") return issueClaimCommand(argv.slice(1));
  if (argv[0] === "put-bundle") return putBundleCommand(argv.slice(1));
  let values: ReturnType<typeof parse>["values"];
  const parse = (args: Array<string>) =>
    parseArgs({
      args,
      strict: true,
      options: {
        devices: { type: "string" },
        rate: { type: "string" },
        "api-port": { type: "string" },
        "mqtt-port": { type: "string" },
        "dynamo-port": { type: "string" },
        "bundle-port": { type: "string" },
        "plain-mqtt-port": { type: "string" },
        "gap-seconds": { type: "string" },
        "gap-check-seconds": { type: "string" },
        dir: { type: "string" },
        verbose: { type: "boolean" },
        help: { type: "boolean" },
      },
    });
  let options: Parameters<typeof startStack>[0];
  try {
    values = parse([...argv]).values;
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    options = {
      devices: int(values.devices, "devices", 3, 0, 1000),
      sampleRateHz: int(values.rate, "rate", 10, 1, 400),
      apiPort: int(values["api-port"], "api-port", 8080),
      mqttPort: int(values["mqtt-port"], "mqtt-port", 8883),
      dynamoPort: int(values["dynamo-port"], "dynamo-port", 8000),
      ...(values["bundle-port"] !== undefined
        ? { bundlePort: int(values["bundle-port"], "bundle-port", 0) }
        : {}),
      ...(values["plain-mqtt-port"] !== undefined
        ? { plainMqttPort: int(values["plain-mqtt-port"], "plain-mqtt-port", 1883) }
        : {}),
      ...(values["gap-seconds"] !== undefined
        ? { gapMs: int(values["gap-seconds"], "gap-seconds", 600, 1, 7 * 86_400) * 1_000 }
        : {}),
      ...(values["gap-check-seconds"] !== undefined
        ? {
            gapCheckMs:
              int(values["gap-check-seconds"], "gap-check-seconds", 30, 1, 86_400) * 1_000,
          }
        : {}),
      ...(values.dir !== undefined ? { dir: values.dir } : {}),
    };
  } catch (e) {
    console.error(`medusa-stack: ${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
    return 2;
  }
  const verbose = values.verbose === true;
  const started = Date.now();
  // Whatever this process and its children (DynamoDB Local's JVM, the devices' outboxes)
  // create in the data folder is owner-only: it holds patients' names and samples, and keys.
  process.umask(0o077);
  // Installed before anything starts: a signal that kills the process skips the
  // 'exit' hooks, and DynamoDB Local (a detached JVM) would outlive it.
  const stopping = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping.signal.aborted) {
      console.error("medusa-stack: stopping already; a third Ctrl-C would leave processes behind");
      return;
    }
    console.log(`\n${signal}: stopping …`);
    stopping.abort(signal);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    console.log("MeDUSA Link local stack");
    let stack: Stack;
    try {
      stack = await startStack({
        ...options,
        signal: stopping.signal,
        progress: (line) => console.log(line.endsWith("…") ? `  ${line}` : `  ✓ ${line}`),
        log: (entry) => {
          const level = entry.level;
          if (verbose) console.log(JSON.stringify(entry));
          else if (level === "warn" || level === "error") console.error(JSON.stringify(entry));
        },
      });
    } catch (e) {
      if (e instanceof StartAborted) {
        console.log("stopped.");
        return 0;
      }
      console.error(`medusa-stack: ${e instanceof Error ? e.message : String(e)}`);
      return 1;
    }
    if (!stopping.signal.aborted) {
      console.log(`
Ready in ${((Date.now() - started) / 1000).toFixed(1)} s.

  Console      ${stack.consoleUrl ?? "(not built: pnpm --filter @medusa/console build)"}${stack.consoleUrl ? "  (development sign-in: clinician or viewer)" : ""}
  API          ${stack.apiUrl}  (OpenAPI at ${stack.apiUrl}/openapi.json)
  MQTT (TLS)   mqtts://127.0.0.1:${stack.mqttPort}  (certificates in ${stack.dir}/certs)${stack.plainMqttPort ? `\n  MQTT plain   mqtt://127.0.0.1:${stack.plainMqttPort}` : ""}
  DynamoDB     ${stack.dynamoEndpoint}  (data in ${stack.dir}/dynamodb)
  Bundles      ${stack.bundles.url}  (agent-bundle bucket in ${stack.dir}/buckets; npm start -- put-bundle FILE)
  Devices      ${stack.deviceIds.length > 0 ? stack.deviceIds.join(", ") : "(none)"}

A clinician token (development secret, valid 12 h):
  export TOKEN=${stack.token}

${stack.deviceIds.length === 0 ? issueHint(stack) : ""}${curlExamples(stack)}

Ctrl-C stops everything.`);
      const quiet = reportParked(stack.ingest.stats, stack.failuresFile, (line) =>
        console.log(line),
      );
      await new Promise((resolve) =>
        stopping.signal.addEventListener("abort", resolve, { once: true }),
      );
      quiet();
    }
    try {
      await stack.stop();
      console.log("stopped.");
      return 0;
    } catch (e) {
      console.error(`medusa-stack: stopping failed: ${String(e)}`);
      return 1;
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
};

/** `medusa-stack put-bundle FILE …`: the bundle into the local bucket, and the job that installs it. */
const putBundleCommand = async (argv: ReadonlyArray<string>): Promise<number> => {
  let input: Parameters<typeof putBundle>[0];
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        key: { type: "string" },
        version: { type: "string" },
        dir: { type: "string" },
        help: { type: "boolean" },
      },
    });
    if (values.help) {
      console.log(PUT_BUNDLE_USAGE);
      return 0;
    }
    const [file, ...more] = positionals;
    if (file === undefined || more.length > 0)
      throw new RangeError("give exactly one bundle file, e.g. put-bundle dist/medusa-device.mjs");
    input = {
      file: resolve(file),
      dir: resolve(values.dir ?? ".medusa"),
      ...(values.key !== undefined ? { key: values.key } : {}),
      ...(values.version !== undefined ? { version: values.version } : {}),
    };
  } catch (e) {
    console.error(
      `medusa-stack put-bundle: ${e instanceof Error ? e.message : String(e)}\n\n${PUT_BUNDLE_USAGE}`,
    );
    return 2;
  }
  try {
    const put = putBundle(input);
    console.log(`put ${input.file} (${put.size} bytes) as s3://${put.bucket}/${put.key}

  key      ${put.key}
  sha256   ${put.sha256}
  version  ${put.version}

Run the update on a device (a clinician's token, see npm start's output):
  curl -s -X POST -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
    http://127.0.0.1:8080/api/devices/DEVICE_ID/jobs \\
    -d '${JSON.stringify(put.jobRequest)}'

The job document AWS IoT Jobs keeps (its URL presigned for each delivery):
  ${JSON.stringify(put.jobDocument)}`);
    return 0;
  } catch (e) {
    console.error(`medusa-stack put-bundle: ${e instanceof Error ? e.message : String(e)}`);
    return e instanceof InvalidBundle ? 2 : 1;
  }
};

/** `medusa-stack issue-device ID …`: writes the files and prints how to use them; starts nothing. */
const issueDeviceCommand = async (argv: ReadonlyArray<string>): Promise<number> => {
  let options: Parameters<typeof issueDevice>[0];
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        out: { type: "string" },
        dir: { type: "string" },
        "mqtt-port": { type: "string" },
        host: { type: "string" },
        help: { type: "boolean" },
      },
    });
    if (values.help) {
      console.log(ISSUE_USAGE);
      return 0;
    }
    const [id, ...more] = positionals;
    if (id === undefined || more.length > 0)
      throw new RangeError("give exactly one device id, e.g. issue-device medusa-pi-01");
    if (values.host === "") throw new RangeError("--host must not be empty");
    options = {
      id,
      mqttPort: int(values["mqtt-port"], "mqtt-port", 8883, 1),
      ...(values.out !== undefined ? { out: values.out } : {}),
      ...(values.dir !== undefined ? { dir: values.dir } : {}),
      ...(values.host !== undefined ? { host: values.host } : {}),
    };
  } catch (e) {
    console.error(
      `medusa-stack issue-device: ${e instanceof Error ? e.message : String(e)}\n\n${ISSUE_USAGE}`,
    );
    return 2;
  }
  try {
    const issued = await issueDevice({
      ...options,
      log: (entry) => console.error(JSON.stringify(entry)),
    });
    console.log(issuedReport(issued));
    return 0;
  } catch (e) {
    console.error(`medusa-stack issue-device: ${e instanceof Error ? e.message : String(e)}`);
    return e instanceof InvalidDeviceId ? 2 : 1;
  }
};

/** `medusa-stack issue-claim --batch NAME …`: writes the files and prints how to use them; starts nothing. */
const issueClaimCommand = async (argv: ReadonlyArray<string>): Promise<number> => {
  let options: Parameters<typeof issueClaim>[0];
  try {
    const { values } = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        batch: { type: "string" },
        serial: { type: "string" },
        out: { type: "string" },
        dir: { type: "string" },
        "mqtt-port": { type: "string" },
        host: { type: "string" },
        help: { type: "boolean" },
      },
    });
    if (values.help) {
      console.log(CLAIM_USAGE);
      return 0;
    }
    if (values.batch === undefined) throw new RangeError("--batch NAME is required");
    if (values.host === "") throw new RangeError("--host must not be empty");
    options = {
      batch: values.batch,
      mqttPort: int(values["mqtt-port"], "mqtt-port", 8883, 1),
      ...(values.serial !== undefined ? { serialNumber: values.serial } : {}),
      ...(values.out !== undefined ? { out: values.out } : {}),
      ...(values.dir !== undefined ? { dir: values.dir } : {}),
      ...(values.host !== undefined ? { host: values.host } : {}),
    };
  } catch (e) {
    console.error(
      `medusa-stack issue-claim: ${e instanceof Error ? e.message : String(e)}\n\n${CLAIM_USAGE}`,
    );
    return 2;
  }
  try {
    console.log(issuedClaimReport(await issueClaim(options)));
    return 0;
  } catch (e) {
    console.error(`medusa-stack issue-claim: ${e instanceof Error ? e.message : String(e)}`);
    return e instanceof InvalidClaimRequest ? 2 : 1;
  }
};
