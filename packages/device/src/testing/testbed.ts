import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type DevCertFiles,
  ensureDevCerts,
  type LocalBroker,
  startLocalBroker,
} from "@medusa/adapters/broker";
import { connectTransport, type MqttTransport } from "@medusa/adapters/mqtt";
import { parseSensorPayload, samplesOf } from "@medusa/domain";
import { Either } from "effect";
import { type DeviceConfig, loadConfig } from "../config.js";

/** A throw-away folder with a development CA and certificates for the given ids. */
export const testFolder = async (ids: ReadonlyArray<string>) => {
  const dir = mkdtempSync(join(tmpdir(), "medusa-device-"));
  const certs = await ensureDevCerts(join(dir, "certs"), ids);
  return { dir, certs, remove: () => rmSync(dir, { recursive: true, force: true, maxRetries: 5 }) };
};

/** Writes an agent configuration file (the old publisher's format plus new keys) and loads it. */
export const writeConfig = (
  dir: string,
  certs: DevCertFiles,
  id: string,
  port: number,
  options: {
    readonly rateHz?: number;
    readonly intervalMs?: number;
    readonly durability?: "none" | "batch" | "fsync";
    readonly outbox?: string;
    /** `publish.basic_ingest_rule`: sensor data with Basic Ingest to this rule. */
    readonly basicIngestRule?: string;
  } = {},
): { path: string; config: DeviceConfig } => {
  const client = certs.paths.clients[id];
  if (!client) throw new Error(`no certificate for ${id}`);
  const path = join(dir, `${id}.toml`);
  writeFileSync(
    path,
    `[mqtt]
broker_host = "127.0.0.1"
broker_port = ${port}
client_id = "${id}"
ca_cert = "${certs.paths.ca}"
client_cert = "${client.cert}"
client_key = "${client.key}"
backoff_base_ms = 50
backoff_cap_ms = 500

[sensor]
kind = "synthetic"
sample_rate_hz = ${options.rateHz ?? 50}

[publish]
interval_ms = ${options.intervalMs ?? 200}
status_interval_ms = 1000
${options.basicIngestRule ? `basic_ingest_rule = "${options.basicIngestRule}"` : ""}

[outbox]
path = "${join(dir, `outbox-${id}`)}"
durability = "${options.durability ?? "none"}"
${options.outbox ?? ""}
`,
  );
  return { path, config: Either.getOrThrow(loadConfig(path, { env: {} })) };
};

/** Every sensor message a broker accepted, as (device, sequence) in arrival order. */
export const recordSamples = (broker: LocalBroker) => {
  const seen: Array<{ topic: string; sequences: Array<number>; payload: string }> = [];
  broker.aedes.on("publish", (packet, client) => {
    if (!client || !packet.topic.endsWith("/sensor/data")) return;
    const payload = packet.payload.toString();
    const decoded = parseSensorPayload(payload);
    if (Either.isRight(decoded))
      seen.push({
        topic: packet.topic,
        payload,
        sequences: samplesOf(decoded.right, 0).map((s) => s.sequence),
      });
  });
  return seen;
};

export const startBroker = (
  certs: DevCertFiles,
  port = 0,
  options: {
    readonly basicIngestRules?: ReadonlyArray<string>;
    readonly jobs?: Exclude<Parameters<typeof startLocalBroker>[0]["jobs"], undefined>;
  } = {},
) =>
  startLocalBroker({
    port,
    tls: { ca: certs.ca, ...certs.server },
    serviceIdentities: ["medusa-cloud"],
    ...options,
  });

/** A cloud service (`medusa-cloud`, service rights on `startBroker`'s broker) connected over TLS. */
export const connectCloud = (certs: DevCertFiles, port: number): MqttTransport => {
  const pair = certs.clients["medusa-cloud"];
  if (!pair) throw new Error("no certificate for medusa-cloud");
  return connectTransport({
    host: "127.0.0.1",
    port,
    clientId: "medusa-cloud",
    ca: certs.ca,
    cert: pair.cert,
    key: pair.key,
  });
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `check` holds, polling; fails with `what` after `timeoutMs`. */
export const eventually = async (check: () => boolean, what: string, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
};

/** The sequence numbers first seen, in order, and whether duplicates carried identical samples. */
export const firstSeen = (
  messages: ReadonlyArray<{ sequences: ReadonlyArray<number>; payload: string }>,
) => {
  const byPayload = new Map<number, string>();
  const order: Array<number> = [];
  let consistent = true;
  for (const m of messages) {
    if (byPayload.has(m.sequences[0] ?? -1)) {
      if (byPayload.get(m.sequences[0] ?? -1) !== m.payload) consistent = false;
      continue;
    }
    byPayload.set(m.sequences[0] ?? -1, m.payload);
    order.push(...m.sequences);
  }
  return { order, consistent };
};
