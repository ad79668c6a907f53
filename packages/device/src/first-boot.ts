import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { SerialNumber, TemplateName } from "@medusa/domain";
import { Either, ParseResult, Schema } from "effect";
import { parse as parseToml } from "smol-toml";
import { ConfigError, readProblem } from "./config.js";
import { decodeConfigFile } from "./config-file.js";
import {
  PROVISIONING_FILES,
  type Provisioned,
  provisionDevice,
  serialFromCpuinfo,
} from "./provisioning.js";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The agent's first boot by claim: when the configuration file has a
 * `[provisioning]` table, the device provisions itself (or finds itself
 * provisioned) before the agent starts, and the agent then runs as the thing
 * with the certificate and key provisioning stored: they reach the
 * configuration as the environment overrides do (`AWS_IOT_CLIENT_ID`,
 * `AWS_IOT_CERT_PATH`, `AWS_IOT_KEY_PATH`), so the rest of the agent does not
 * know how its identity came.
 *
 * Resolves with the overrides to load the configuration with (none without
 * the table); rejects with a `ConfigError`, or provisioning's errors.
 */
export const firstBoot = async (
  file: string,
  env: Env,
  options: {
    readonly log?: (entry: Record<string, unknown>) => void;
    /** Only look: the stored identity if there is one, never a request (`--check`). */
    readonly lookOnly?: boolean;
    readonly cpuinfo?: () => string | undefined;
    readonly cwd?: string;
  } = {},
): Promise<Env> => {
  const path = resolve(options.cwd ?? process.cwd(), file);
  const fail = (key: string, problem: string) => new ConfigError({ file: path, key, problem });
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch {
    // The configuration's own loading names what is wrong with the file.
    return env;
  }
  if (raw.provisioning === undefined) return env;
  const decoded = decodeConfigFile(raw);
  if (Either.isLeft(decoded)) {
    const [issue] = ParseResult.ArrayFormatter.formatErrorSync(decoded.left);
    throw fail(issue?.path.join(".") ?? "provisioning", issue?.message ?? "invalid");
  }
  const p = decoded.right.provisioning;
  if (p === undefined) return env;
  const here = dirname(path);
  const dir = resolve(here, p.dir);
  const stored = join(dir, PROVISIONING_FILES.state);
  const identity = (thing: Pick<Provisioned, "thingName" | "certificatePath" | "keyPath">) => ({
    ...env,
    AWS_IOT_CLIENT_ID: thing.thingName,
    AWS_IOT_CERT_PATH: thing.certificatePath,
    AWS_IOT_KEY_PATH: thing.keyPath,
  });
  if (options.lookOnly) {
    if (!existsSync(stored)) return env;
    const state = JSON.parse(readFileSync(stored, "utf8")) as { thingName?: string };
    return state.thingName === undefined
      ? env
      : identity({
          thingName: state.thingName,
          certificatePath: join(dir, PROVISIONING_FILES.certificate),
          keyPath: join(dir, PROVISIONING_FILES.key),
        });
  }
  const host = env.AWS_IOT_ENDPOINT || decoded.right.mqtt.broker_host;
  if (!host) throw fail("mqtt.broker_host", "is required (or AWS_IOT_ENDPOINT)");
  const caPath = env.AWS_IOT_CA_PATH
    ? resolve(options.cwd ?? process.cwd(), env.AWS_IOT_CA_PATH)
    : decoded.right.mqtt.ca_cert && resolve(here, decoded.right.mqtt.ca_cert);
  if (!caPath) throw fail("mqtt.ca_cert", "is required (or AWS_IOT_CA_PATH)");
  const readPem = (key: string, at: string) => {
    try {
      return readFileSync(at, "utf8");
    } catch (e) {
      throw fail(key, `${at}: ${readProblem(e)}`);
    }
  };
  let serialNumber: SerialNumber | undefined;
  if (p.serial_number !== undefined)
    serialNumber = Schema.decodeSync(SerialNumber)(p.serial_number);
  else {
    const cpuinfo = (
      options.cpuinfo ??
      (() => {
        try {
          return readFileSync("/proc/cpuinfo", "utf8");
        } catch {
          return undefined;
        }
      })
    )();
    serialNumber = cpuinfo === undefined ? undefined : serialFromCpuinfo(cpuinfo);
    if (serialNumber === undefined)
      throw fail(
        "provisioning.serial_number",
        "is required here: /proc/cpuinfo has no Serial line (not a Raspberry Pi)",
      );
  }
  const provisioned = await provisionDevice({
    broker: {
      host,
      port: decoded.right.mqtt.broker_port,
      caPem: readPem("mqtt.ca_cert", caPath),
    },
    claim: {
      certPem: readPem("provisioning.claim_cert", resolve(here, p.claim_cert)),
      keyPem: readPem("provisioning.claim_key", resolve(here, p.claim_key)),
    },
    template: Schema.decodeSync(TemplateName)(p.template),
    serialNumber,
    dir,
    backoff: {
      baseMs: decoded.right.mqtt.backoff_base_ms,
      capMs: decoded.right.mqtt.backoff_cap_ms,
    },
    ...(options.log ? { log: options.log } : {}),
  });
  return identity(provisioned);
};
