import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import { ensureDevCerts } from "@medusa/adapters/broker";
import { loadConfig } from "@medusa/device";
import {
  CLAIM_CLIENT_ID_PREFIX,
  DeviceId,
  isClaimClientId,
  topicFor,
  topicTemplates,
} from "@medusa/domain";
import { Either, ParseResult, Schema } from "effect";
import { ensurePrivateDir } from "./data-dir.js";
import { agentConfigText } from "./fleet.js";
import type { StackLog } from "./log.js";
import { CLOUD_IDENTITY, INGEST_RULE_NAME } from "./stack.js";

/** A device id the domain refuses, or one the stack keeps for itself. */
export class InvalidDeviceId extends Error {
  override readonly name = "InvalidDeviceId";
}

export interface IssueDeviceOptions {
  readonly id: string;
  /** The stack's data folder, whose development CA signs (`.medusa` by default). */
  readonly dir?: string;
  /** Where the files go (`{dir}/issued/{id}` by default). */
  readonly out?: string;
  /** The broker as the device reaches it (`127.0.0.1`, 8883). */
  readonly host?: string;
  readonly mqttPort?: number;
  readonly topicPrefix?: string;
  /** Paths under it are printed relative to it (the working directory by default). */
  readonly cwd?: string;
  readonly log?: StackLog;
}

export interface IssuedDevice {
  readonly id: DeviceId;
  readonly out: string;
  readonly files: {
    readonly ca: string;
    readonly cert: string;
    readonly key: string;
    readonly config: string;
  };
  readonly topic: string;
  /** A single reading published as the device (`-q 1`: a refusal shows). */
  readonly mosquittoPub: string;
  /** The agent from the repository's sources, with the written configuration. */
  readonly agentCommand: string;
  /** What a reader should know before using them (empty when nothing). */
  readonly notes: ReadonlyArray<string>;
}

/** The names the stack's broker certificate holds (`issueServerCert`'s), and where it listens. */
const BROKER_NAMES = ["127.0.0.1", "localhost"];

const decodeDeviceId = Schema.decodeUnknownEither(DeviceId);

/** The id as the domain reads it, or why not. */
export const deviceIdToIssue = (id: string): DeviceId => {
  const decoded = decodeDeviceId(id);
  if (Either.isLeft(decoded)) {
    const [issue] = ParseResult.ArrayFormatter.formatErrorSync(decoded.left);
    throw new InvalidDeviceId(
      `${JSON.stringify(id)} is not a valid device id: ${issue?.message ?? "invalid"}`,
    );
  }
  if (isClaimClientId(decoded.right))
    throw new InvalidDeviceId(
      `${decoded.right} starts ${CLAIM_CLIENT_ID_PREFIX}, the client ids of devices still on a claim certificate (fleet provisioning): a device's id may not`,
    );
  if (decoded.right === CLOUD_IDENTITY)
    throw new InvalidDeviceId(
      `${CLOUD_IDENTITY} is the local stack's cloud-service identity (its certificate is in the certificates folder), not a device`,
    );
  return decoded.right;
};

/** A word for a POSIX shell: as it is when safe, else single-quoted. */
export const shellWord = (word: string) =>
  /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;

/**
 * A certificate and key for `id` from the local stack's development CA (made
 * when `{dir}/certs` has none, so the one the stack uses), with the CA and an
 * agent configuration that reads them from its own folder: everything a
 * device needs to publish as `id` to the stack's broker. Issuing again gives
 * the same certificate (it is kept in `{dir}/certs` as the simulated
 * devices' are). Files 0600, a new folder 0700.
 */
export const issueDevice = async (options: IssueDeviceOptions): Promise<IssuedDevice> => {
  const id = deviceIdToIssue(options.id);
  const dir = resolve(options.dir ?? ".medusa");
  const host = options.host ?? "127.0.0.1";
  const port = options.mqttPort ?? 8883;
  const prefix = options.topicPrefix ?? "medusa";
  ensurePrivateDir(dir, (entry) => options.log?.({ component: "stack", ...entry }));
  const certs = await ensureDevCerts(join(dir, "certs"), [id]);
  const pair = certs.clients[id];
  if (!pair) throw new Error(`no development certificate for ${id}`);

  const out = resolve(options.out ?? join(dir, "issued", id));
  mkdirSync(out, { recursive: true, mode: 0o700 });
  const names = {
    ca: "ca.pem",
    cert: `${id}.cert.pem`,
    key: `${id}.key.pem`,
    config: "medusa-device.toml",
  };
  const files = {
    ca: join(out, names.ca),
    cert: join(out, names.cert),
    key: join(out, names.key),
    config: join(out, names.config),
  };
  const write = (path: string, content: string) => {
    writeFileSync(path, content, { mode: 0o600 });
    chmodSync(path, 0o600);
  };
  write(files.ca, certs.ca);
  write(files.cert, pair.cert);
  write(files.key, pair.key);
  write(
    files.config,
    agentConfigText({
      heading: `${id} for MeDUSA Link's local stack: a development certificate, never for production. Paths are this folder's.`,
      id,
      host,
      port,
      files: { ...names, outbox: "outbox" },
      topicPrefix: prefix,
      sampleRateHz: 10,
      // A message a second, for quick feedback while developing (register-device writes 10 s for AWS);
      // sensor data with Basic Ingest, as in AWS: the stack's rule takes both paths.
      publishIntervalMs: 1_000,
      basicIngestRule: INGEST_RULE_NAME,
      deviceType: "development",
      durability: "batch",
    }),
  );
  // The file is the agent's: one it refuses would be a defect here, not the user's to find.
  const checked = loadConfig(files.config, { env: {} });
  if (Either.isLeft(checked))
    throw new Error(`the agent refuses the configuration written: ${checked.left.message}`);

  const cwd = options.cwd ?? process.cwd();
  const shown = (path: string) => {
    const r = relative(cwd, path);
    return shellWord(r !== "" && !r.startsWith("..") && !isAbsolute(r) ? r : path);
  };
  const topic = topicFor(topicTemplates(prefix).sensorData, id);
  const reading = '{"x":0.01,"y":-0.02,"z":0.98,"sequence":1}';
  const mosquittoPub = [
    "mosquitto_pub",
    `-h ${shellWord(host)} -p ${port} -i ${id}`,
    `--cafile ${shown(files.ca)} --cert ${shown(files.cert)} --key ${shown(files.key)}`,
    `-q 1 -t ${topic} -m '${reading}'`,
  ].join(" ");
  const agentCommand = `pnpm --filter @medusa/device start --config ${shellWord(files.config)}`;
  const notes = BROKER_NAMES.includes(host)
    ? []
    : [
        `The stack's broker listens on 127.0.0.1 only, and its certificate names ${BROKER_NAMES.join(" and ")}: a device reaching it as ${host} is refused. From another machine, tunnel the port and keep --host 127.0.0.1 (ssh -R ${port}:127.0.0.1:${port} pi@raspberrypi).`,
      ];
  return { id, out, files, topic, mosquittoPub, agentCommand, notes };
};

/** What `medusa-stack issue-device` prints. */
export const issuedReport = (issued: IssuedDevice): string =>
  [
    `Issued ${issued.id} by the local stack's development CA, in ${issued.out}:`,
    `  ca.pem, ${issued.id}.cert.pem, ${issued.id}.key.pem (0600), medusa-device.toml`,
    "",
    "Publish a reading as the device (the stack must be running; -q 1 so that a refusal shows):",
    `  ${issued.mosquittoPub}`,
    "",
    "Run the device agent as it (synthetic sensor; the folder can be copied to a Pi as it is):",
    `  ${issued.agentCommand}`,
    ...issued.notes.flatMap((note) => ["", note]),
  ].join("\n");
