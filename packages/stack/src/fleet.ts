import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DevCertFiles } from "@medusa/adapters/broker";
import { type DeviceConfig, parseConfig } from "@medusa/device";
import { Either } from "effect";

/** `medusa-sim-01`, `medusa-sim-02`, … (thing names, so valid device ids). */
export const simulatedDeviceIds = (count: number): ReadonlyArray<string> => {
  const width = Math.max(2, String(count).length);
  return Array.from(
    { length: count },
    (_, i) => `medusa-sim-${String(i + 1).padStart(width, "0")}`,
  );
};

/**
 * The agent's TOML file for a device of the local stack, with the synthetic
 * sensor. Paths are written as given: absolute, or relative to the file's
 * folder (the agent resolves them there).
 */
export const agentConfigText = (options: {
  /** The file's first comment line. */
  readonly heading: string;
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly files: {
    readonly ca: string;
    readonly cert: string;
    readonly key: string;
    readonly outbox: string;
  };
  readonly topicPrefix: string;
  readonly sampleRateHz: number;
  readonly publishIntervalMs: number;
  readonly deviceType: string;
  readonly durability: "none" | "batch";
  /** `publish.basic_ingest_rule`: sensor data with Basic Ingest to this rule; absent, the plain topic. */
  readonly basicIngestRule?: string;
  /**
   * A device flashed with a claim certificate: no client id, certificate or
   * key of its own (`files.cert`, `files.key` are the claim's), a
   * `[provisioning]` table instead; the agent provisions itself on first boot.
   */
  readonly provisioning?: {
    readonly template: string;
    readonly dir: string;
    /** Absent: the agent reads the Pi's `/proc/cpuinfo`. */
    readonly serialNumber?: string;
  };
}): string => {
  const { id, files } = options;
  // Numbers from the id, so each device walks differently but the same on every start.
  const seed = [...id].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) >>> 0, 7);
  const p = options.provisioning;
  const identity =
    p === undefined
      ? `client_id = "${id}"
ca_cert = ${JSON.stringify(files.ca)}
client_cert = ${JSON.stringify(files.cert)}
client_key = ${JSON.stringify(files.key)}`
      : `ca_cert = ${JSON.stringify(files.ca)}`;
  const provisioning =
    p === undefined
      ? ""
      : `
[provisioning]
template = "${p.template}"
claim_cert = ${JSON.stringify(files.cert)}
claim_key = ${JSON.stringify(files.key)}
${p.serialNumber === undefined ? "# serial_number: read from /proc/cpuinfo (a Pi); elsewhere set one on the allow-list" : `serial_number = "${p.serialNumber}"`}
dir = ${JSON.stringify(p.dir)}
`;
  return `# ${options.heading}
[mqtt]
broker_host = ${JSON.stringify(options.host)}
broker_port = ${options.port}
${identity}
topic_prefix = "${options.topicPrefix}"
backoff_base_ms = 200
backoff_cap_ms = 5000

[sensor]
kind = "synthetic"   # "adxl345" on a Pi with the chip
sample_rate_hz = ${options.sampleRateHz}
seed = ${seed}

[device]
location = "local stack"
device_type = "${options.deviceType}"

[publish]
interval_ms = ${options.publishIntervalMs}
status_interval_ms = 30000
${options.basicIngestRule === undefined ? "" : `basic_ingest_rule = "${options.basicIngestRule}"\n`}
[outbox]
path = ${JSON.stringify(files.outbox)}
durability = "${options.durability}"

[jobs]
# agent.update (run by medusa-launcher) downloads from the stack's bundle bucket, whose certificate this CA signs.
update_ca_file = ${JSON.stringify(files.ca)}
${provisioning}`;
};

/**
 * A simulated device's configuration, written as the agent's own TOML file
 * under `{dir}/devices/{id}.toml` (so `medusa-device --config` can run it by
 * hand) and loaded the way the agent loads it.
 */
export const deviceConfig = (options: {
  readonly dir: string;
  readonly id: string;
  readonly port: number;
  readonly certs: DevCertFiles;
  readonly topicPrefix: string;
  readonly sampleRateHz: number;
  readonly publishIntervalMs: number;
  readonly basicIngestRule?: string;
}): DeviceConfig => {
  const { dir, id, certs } = options;
  const client = certs.paths.clients[id];
  if (!client) throw new Error(`no development certificate for ${id}`);
  const file = join(dir, "devices", `${id}.toml`);
  mkdirSync(join(dir, "devices"), { recursive: true, mode: 0o700 });
  // The agent makes its outbox inside; this folder keeps it from other users.
  mkdirSync(join(dir, "outbox"), { recursive: true, mode: 0o700 });
  const text = agentConfigText({
    heading: "A simulated device of the local stack (development only).",
    id,
    host: "127.0.0.1",
    port: options.port,
    files: { ca: certs.paths.ca, ...client, outbox: join(dir, "outbox", id) },
    topicPrefix: options.topicPrefix,
    sampleRateHz: options.sampleRateHz,
    publishIntervalMs: options.publishIntervalMs,
    deviceType: "simulated",
    durability: "none",
    ...(options.basicIngestRule !== undefined ? { basicIngestRule: options.basicIngestRule } : {}),
  });
  writeFileSync(file, text, { mode: 0o600 });
  return Either.getOrThrow(parseConfig(text, file, { env: {} }));
};
