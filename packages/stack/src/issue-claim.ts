import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { certificateIdOfPem, ensureDevCerts, issueDeviceCert } from "@medusa/adapters/broker";
import { loadConfig } from "@medusa/device";
import { SerialNumber } from "@medusa/domain";
import { Either, ParseResult, Schema } from "effect";
import { ensurePrivateDir } from "./data-dir.js";
import { agentConfigText } from "./fleet.js";
import { shellWord } from "./issue-device.js";
import type { StackLog } from "./log.js";
import { claimsDir, LOCAL_TEMPLATE_NAME } from "./provisioning.js";
import { INGEST_RULE_NAME } from "./stack.js";

/** A batch name the stack can name files by, or a serial number it refuses. */
export class InvalidClaimRequest extends Error {
  override readonly name = "InvalidClaimRequest";
}

/** A batch as the local stack names its claim files: 1–64 of `[A-Za-z0-9._-]`. */
const BATCH = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface IssueClaimOptions {
  readonly batch: string;
  /** The stack's data folder, whose development CA signs (`.medusa` by default). */
  readonly dir?: string;
  /** Where the batch's files go (`{dir}/issued/claim-{batch}` by default). */
  readonly out?: string;
  readonly host?: string;
  readonly mqttPort?: number;
  readonly topicPrefix?: string;
  /** The device's serial number, for the configuration (absent: the Pi's `/proc/cpuinfo`). */
  readonly serialNumber?: string;
  readonly log?: StackLog;
}

export interface IssuedClaim {
  readonly batch: string;
  /** AWS IoT's id of the claim certificate (for `allow-list --claim-certificate-id`). */
  readonly certificateId: string;
  /** True: made now; false: the batch had one already (the same is given again). */
  readonly made: boolean;
  readonly out: string;
  readonly files: {
    readonly ca: string;
    readonly cert: string;
    readonly key: string;
    readonly config: string;
  };
  readonly agentCommand: string;
}

/**
 * The claim certificate of a production batch, for the local stack: made by
 * its development CA (once per batch, kept in `{dir}/claims`, where the
 * stack's broker holds it to the claim policy, running or not), and written
 * with the CA and an agent configuration whose `[provisioning]` table makes
 * the agent provision itself on first boot, to `out`. Files 0600. The
 * certificate's CN is not a thing name, so should the broker not know it, it
 * is refused rather than taken for a device.
 */
export const issueClaim = async (options: IssueClaimOptions): Promise<IssuedClaim> => {
  const { batch } = options;
  if (!BATCH.test(batch))
    throw new InvalidClaimRequest(
      `batch ${JSON.stringify(batch)}: 1-64 characters of [A-Za-z0-9._-], starting with a letter or digit (it names files)`,
    );
  let serialNumber: string | undefined;
  if (options.serialNumber !== undefined) {
    const decoded = Schema.decodeUnknownEither(SerialNumber)(options.serialNumber);
    if (Either.isLeft(decoded))
      throw new InvalidClaimRequest(
        `serial number ${JSON.stringify(options.serialNumber)}: ${ParseResult.ArrayFormatter.formatErrorSync(decoded.left)[0]?.message ?? "invalid"}`,
      );
    serialNumber = decoded.right;
  }
  const dir = resolve(options.dir ?? ".medusa");
  ensurePrivateDir(dir, (entry) => options.log?.({ component: "stack", ...entry }));
  const certs = await ensureDevCerts(join(dir, "certs"), []);
  const write = (path: string, content: string) => {
    writeFileSync(path, content, { mode: 0o600 });
    chmodSync(path, 0o600);
  };

  const claims = claimsDir(dir);
  mkdirSync(claims, { recursive: true, mode: 0o700 });
  const kept = { cert: join(claims, `${batch}.cert.pem`), key: join(claims, `${batch}.key.pem`) };
  let made = false;
  let pair: { cert: string; key: string };
  if (existsSync(kept.cert) && existsSync(kept.key))
    pair = { cert: readFileSync(kept.cert, "utf8"), key: readFileSync(kept.key, "utf8") };
  else {
    pair = await issueDeviceCert(certs.authority, `MeDUSA claim certificate, batch ${batch}`);
    // The key first: the broker registers a claim by its certificate file.
    write(kept.key, pair.key);
    write(kept.cert, pair.cert);
    made = true;
  }

  const out = resolve(options.out ?? join(dir, "issued", `claim-${batch}`));
  mkdirSync(out, { recursive: true, mode: 0o700 });
  const names = { ca: "ca.pem", cert: "claim.cert.pem", key: "claim.key.pem" };
  const files = {
    ca: join(out, names.ca),
    cert: join(out, names.cert),
    key: join(out, names.key),
    config: join(out, "medusa-device.toml"),
  };
  write(files.ca, certs.ca);
  write(files.cert, pair.cert);
  write(files.key, pair.key);
  write(
    files.config,
    agentConfigText({
      heading: `A device of batch ${batch}, flashed with the batch's claim certificate for MeDUSA Link's local stack (development CA, never for production). Paths are this folder's.`,
      id: `batch-${batch}`,
      host: options.host ?? "127.0.0.1",
      port: options.mqttPort ?? 8883,
      files: { ...names, outbox: "outbox" },
      topicPrefix: options.topicPrefix ?? "medusa",
      sampleRateHz: 10,
      publishIntervalMs: 1_000,
      basicIngestRule: INGEST_RULE_NAME,
      deviceType: "development",
      durability: "batch",
      provisioning: {
        template: LOCAL_TEMPLATE_NAME,
        dir: "provisioning",
        ...(serialNumber !== undefined ? { serialNumber } : {}),
      },
    }),
  );
  if (serialNumber !== undefined) {
    // As the agent reads it once provisioned: a file it refuses is a defect here.
    const checked = loadConfig(files.config, {
      env: {
        AWS_IOT_CLIENT_ID: `medusa-${serialNumber}`,
        AWS_IOT_CERT_PATH: files.cert,
        AWS_IOT_KEY_PATH: files.key,
      },
    });
    if (Either.isLeft(checked))
      throw new Error(`the agent refuses the configuration written: ${checked.left.message}`);
  }
  return {
    batch,
    certificateId: certificateIdOfPem(pair.cert),
    made,
    out,
    files,
    agentCommand: `pnpm --filter @medusa/device start --config ${shellWord(files.config)}`,
  };
};

/** What `medusa-stack issue-claim` prints. */
export const issuedClaimReport = (issued: IssuedClaim): string =>
  [
    `${issued.made ? "Issued" : "Found"} the claim certificate of batch ${issued.batch} (local stack's development CA), in ${issued.out}:`,
    "  ca.pem, claim.cert.pem, claim.key.pem (0600), medusa-device.toml ([provisioning])",
    `  certificate id ${issued.certificateId}`,
    "",
    "It may only provision: connect as provision-<serial>, CreateCertificateFromCsr and",
    `RegisterThing with template ${LOCAL_TEMPLATE_NAME}. Put the batch's serial numbers on the allow-list:`,
    `  pnpm --filter @medusa/infra allow-list import serials.csv --batch ${issued.batch} --endpoint http://127.0.0.1:8000`,
    "",
    "Then start a device of the batch (it provisions itself, then runs as medusa-<serial>):",
    `  ${issued.agentCommand}`,
  ].join("\n");
