import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { presignedUrlPlaceholder } from "@medusa/adapters/jobs";
import { objectPath, putObjectFile, type S3Credentials } from "@medusa/adapters/s3";

/** The local stack's agent-bundle bucket (the API's jobs adapter names it in every agent.update). */
export const AGENT_BUNDLE_BUCKET = "medusa-local-agent-bundles";
/** Where the stack's buckets are: one folder each. */
export const bucketsDir = (dir: string): string => join(dir, "buckets");
/** The signing region of the local presigned URLs. */
export const LOCAL_S3_REGION = "local";
const PRESIGN_ACCESS_KEY_ID = "AKIDMEDUSALOCALJOBS";

/**
 * The key pair the local Jobs service presigns bundle URLs with (in AWS, the
 * presign role's): the secret made once and kept with the data, so a URL
 * handed out before a restart still checks after it, until it expires.
 */
export const presignCredentials = (dir: string): S3Credentials => {
  const file = join(dir, "s3-presign-secret");
  if (!existsSync(file))
    writeFileSync(file, `${randomBytes(30).toString("base64url")}\n`, { mode: 0o600 });
  return {
    accessKeyId: PRESIGN_ACCESS_KEY_ID,
    secretAccessKey: readFileSync(file, "utf8").trim(),
  };
};

/** The API's rule for a bundle key (`bundle_key`): 1-255 of `[A-Za-z0-9._/-]`, no `..` segment. */
const BUNDLE_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$/;
const VERSION = /^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$/;

export class InvalidBundle extends Error {
  override readonly name = "InvalidBundle";
}

export interface PutBundleInput {
  /** The stack's data folder. */
  readonly dir: string;
  /** The one-file bundle (`pnpm --filter @medusa/device bundle`). */
  readonly file: string;
  /** Its key in the bucket; `agent/{version}/{file name}` by default. */
  readonly key?: string;
  /** Its version; asked of the bundle (`node FILE --version`) when absent. */
  readonly version?: string;
}

export interface PutBundle {
  readonly bucket: string;
  readonly key: string;
  readonly version: string;
  readonly sha256: string;
  readonly size: number;
  /** The body of `POST /api/devices/{id}/jobs` that runs the update. */
  readonly jobRequest: {
    readonly type: "agent.update";
    readonly version: string;
    readonly bundle_key: string;
    readonly sha256: string;
  };
  /** The job document as created, its URL a presigned-URL placeholder the Jobs service resolves per delivery. */
  readonly jobDocument: {
    readonly operation: "agent.update";
    readonly version: string;
    readonly url: string;
    readonly sha256: string;
  };
}

const versionOf = (file: string): string => {
  try {
    return (
      execFileSync(process.execPath, [file, "--version"], {
        encoding: "utf8",
        timeout: 15_000,
        stdio: ["ignore", "pipe", "ignore"],
      })
        .trim()
        .split(/\s+/)
        .at(-1) ?? ""
    );
  } catch {
    return "";
  }
};

/**
 * Puts an agent bundle into the local bundle bucket (a file written whole under
 * `{dir}/buckets/medusa-local-agent-bundles/`), where the bucket server serves it
 * to presigned GETs, running stack or not; says what a job that installs it needs.
 */
export const putBundle = (input: PutBundleInput): PutBundle => {
  if (!existsSync(input.file) || !statSync(input.file).isFile())
    throw new InvalidBundle(`${input.file}: no such file`);
  const bytes = readFileSync(input.file);
  if (bytes.length === 0) throw new InvalidBundle(`${input.file} is empty`);
  const version = input.version ?? versionOf(input.file);
  if (!VERSION.test(version))
    throw new InvalidBundle(
      input.version === undefined
        ? `cannot tell the bundle's version (node ${input.file} --version): give --version V`
        : `--version ${version}: must be 1-64 characters of [0-9A-Za-z.+-]`,
    );
  const key = input.key ?? `agent/${version}/${basename(input.file)}`;
  if (!BUNDLE_KEY.test(key) || key.split("/").includes(".."))
    throw new InvalidBundle(
      `--key ${key}: must be 1-255 characters of [A-Za-z0-9._/-] with no '..' segment`,
    );
  const target = objectPath(bucketsDir(input.dir), AGENT_BUNDLE_BUCKET, key);
  if (target === undefined) throw new InvalidBundle(`--key ${key} cannot name an object`);
  putObjectFile(target, bytes);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  return {
    bucket: AGENT_BUNDLE_BUCKET,
    key,
    version,
    sha256,
    size: bytes.length,
    jobRequest: { type: "agent.update", version, bundle_key: key, sha256 },
    jobDocument: {
      operation: "agent.update",
      version,
      url: presignedUrlPlaceholder(AGENT_BUNDLE_BUCKET, key),
      sha256,
    },
  };
};
