import { ConfigurationChange, isRotationTemplate, TemplateName } from "@medusa/domain";
import { Schema } from "effect";

/**
 * MeDUSA's job documents: the one-off work the cloud asks of an agent through
 * AWS IoT Jobs. A document names its `operation`; the agent refuses
 * (REJECTED, with the reason) one it does not understand. Never a shell
 * command: each operation is a typed request the agent knows how to do.
 *
 * - `config.set`: `settings` in the configuration file's tables and keys, with
 *   the same rules as the shadow's desired state and the configuration route.
 * - `agent.restart`, `outbox.flush`: nothing more.
 * - `agent.update`: the new bundle's `version`, an https `url` (in the job as
 *   created, an S3 presigned-URL placeholder that the Jobs service replaces
 *   when it delivers the document) and the bundle's `sha256` (hex).
 * - `certificate.rotate`: the rotation provisioning `template` the device
 *   registers its new certificate with (`medusa-<stage>-rotation`).
 */

export const JOB_OPERATIONS = [
  "config.set",
  "agent.restart",
  "agent.update",
  "outbox.flush",
  "certificate.rotate",
] as const;
export type JobOperation = (typeof JOB_OPERATIONS)[number];

/** A configuration change that names at least one setting. */
export const JobSettings = ConfigurationChange.pipe(
  Schema.filter(
    (c) =>
      c.sensor?.sample_rate_hz !== undefined ||
      c.publish?.interval_ms !== undefined ||
      c.publish?.status_interval_ms !== undefined ||
      "settings must name at least one setting: sensor.sample_rate_hz, publish.interval_ms or publish.status_interval_ms",
  ),
);

/** A bundle's version: 1-64 characters of `[0-9A-Za-z.+-]`, starting with a letter or digit. */
export const AgentVersion = Schema.String.pipe(
  Schema.pattern(/^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$/, {
    message: () => "version must be 1-64 characters of [0-9A-Za-z.+-]",
  }),
);

/** A SHA-256 digest, lower-case hex. */
export const Sha256Hex = Schema.String.pipe(
  Schema.pattern(/^[0-9a-f]{64}$/, { message: () => "sha256 must be 64 lower-case hex digits" }),
);

/** `${aws:iot:s3-presigned-url:<https S3 URL>}`, anywhere in a string. */
export const PRESIGNED_URL_PLACEHOLDER = /\$\{aws:iot:s3-presigned-url:(https:\/\/[^}\s]+)\}/g;

/** The placeholder for an object of a bucket, in the path-style form AWS documents. */
export const presignedUrlPlaceholder = (bucket: string, key: string): string =>
  `\${aws:iot:s3-presigned-url:https://s3.amazonaws.com/${bucket}/${key}}`;

const WHOLE_PLACEHOLDER = new RegExp(`^${PRESIGNED_URL_PLACEHOLDER.source}$`);

/** An https URL, or (in a job as created) a presigned-URL placeholder. */
export const BundleUrl = Schema.String.pipe(
  Schema.filter(
    (u) =>
      WHOLE_PLACEHOLDER.test(u) ||
      (u.startsWith("https://") && URL.canParse(u)) ||
      "url must be an https URL or an S3 presigned-URL placeholder",
  ),
);

export const ConfigSetJob = Schema.Struct({
  operation: Schema.Literal("config.set"),
  settings: JobSettings,
});
export const AgentRestartJob = Schema.Struct({ operation: Schema.Literal("agent.restart") });
export const AgentUpdateJob = Schema.Struct({
  operation: Schema.Literal("agent.update"),
  version: AgentVersion,
  url: BundleUrl,
  sha256: Sha256Hex,
});
export const OutboxFlushJob = Schema.Struct({ operation: Schema.Literal("outbox.flush") });

/** A rotation template's name (`…-rotation`: the only templates the device policy lets a device use). */
export const RotationTemplateName = TemplateName.pipe(
  Schema.filter(
    (t) =>
      isRotationTemplate(t) || "template must be a rotation template (its name ends -rotation)",
  ),
);
export const CertificateRotateJob = Schema.Struct({
  operation: Schema.Literal("certificate.rotate"),
  template: RotationTemplateName,
});

/** A MeDUSA job document. */
export const JobDocument = Schema.Union(
  ConfigSetJob,
  AgentRestartJob,
  AgentUpdateJob,
  OutboxFlushJob,
  CertificateRotateJob,
);
export type JobDocument = typeof JobDocument.Type;

/** The bucket and key of an S3 URL (path style, or virtual-hosted style), if it is one. */
export const s3ObjectOf = (
  url: string,
): { readonly bucket: string; readonly key: string } | undefined => {
  if (!URL.canParse(url)) return undefined;
  const u = new URL(url);
  if (u.protocol !== "https:") return undefined;
  const path = decodeURIComponent(u.pathname.slice(1));
  const host = u.hostname;
  // bucket.s3.amazonaws.com / bucket.s3.region.amazonaws.com
  const virtual = /^(.+)\.s3[.-]([a-z0-9-]+\.)?amazonaws\.com$/.exec(host);
  if (virtual?.[1] !== undefined)
    return path === "" ? undefined : { bucket: virtual[1], key: path };
  // s3.amazonaws.com/bucket/key, s3.region.amazonaws.com/bucket/key, s3-region.amazonaws.com/…
  if (/^s3[.-]([a-z0-9-]+\.)?amazonaws\.com$/.test(host)) {
    const slash = path.indexOf("/");
    if (slash <= 0 || slash === path.length - 1) return undefined;
    return { bucket: path.slice(0, slash), key: path.slice(slash + 1) };
  }
  return undefined;
};

/**
 * Every presigned-URL placeholder in a job document's strings, replaced by
 * what `resolve` gives for its S3 URL, as the Jobs service does when it
 * delivers a document to a device. Other values are kept as they are.
 */
export const resolvePresignedUrls = <T>(document: T, resolve: (s3Url: string) => string): T => {
  const walk = (value: unknown): unknown => {
    if (typeof value === "string")
      return value.replace(PRESIGNED_URL_PLACEHOLDER, (_m, s3Url: string) => resolve(s3Url));
    if (Array.isArray(value)) return value.map(walk);
    if (typeof value === "object" && value !== null) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value))
        Object.defineProperty(out, k, {
          value: walk(v),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      return out;
    }
    return value;
  };
  return walk(document) as T;
};
