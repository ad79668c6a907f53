// The job documents the agent executes, `{"operation": ...}`: the shared schemas
// (`@medusa/adapters/jobs`), and config.set's settings read field by field with the shadow's rules.
import {
  AgentRestartJob,
  AgentUpdateJob,
  CertificateRotateJob,
  JOB_OPERATIONS,
  type JobOperation,
  OutboxFlushJob,
} from "@medusa/adapters/jobs";
import {
  type DeviceSettings,
  readDesiredSettings,
  type SettingRefusal,
  type TemplateName,
} from "@medusa/domain";
import { Either, ParseResult, Schema } from "effect";

export { JOB_OPERATIONS, type JobOperation };

/** A job the agent understands, from its job document. */
export type AgentJob =
  | {
      readonly operation: "config.set";
      /** The valid settings (each checked with the configuration file's rule). */
      readonly settings: DeviceSettings;
      /** What the document asked for that is not valid, with the reason. */
      readonly refused: ReadonlyArray<SettingRefusal>;
    }
  | { readonly operation: "agent.restart" }
  | { readonly operation: "outbox.flush" }
  | {
      readonly operation: "agent.update";
      readonly version: string;
      readonly url: string;
      /** Lower-case hex. */
      readonly sha256: string;
    }
  | {
      readonly operation: "certificate.rotate";
      /** The rotation provisioning template the new certificate is registered with. */
      readonly template: TemplateName;
    };

/** A job document, read: the job, or why the agent does not understand it (→ REJECTED). */
export type ReadJob =
  | { readonly ok: true; readonly job: AgentJob }
  | { readonly ok: false; readonly reason: string };

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u);
const no = (reason: string): ReadJob => ({ ok: false, reason });
const strict = { errors: "all", onExcessProperty: "error" } as const;
const decode = <A, I>(schema: Schema.Schema<A, I>, document: unknown, what: string) =>
  Either.mapLeft(
    Schema.decodeUnknownEither(schema, strict)(document),
    (e) =>
      `${what}: ${ParseResult.ArrayFormatter.formatErrorSync(e)
        .map((i) => `${i.path.join(".") || "document"}: ${i.message}`)
        .join("; ")}`,
  );

/** Reads a job document (as the Jobs service gives it over MQTT: a JSON object). */
export const readJobDocument = (document: unknown): ReadJob => {
  if (!isRecord(document)) return no("the job document is not a JSON object");
  const operation = document.operation;
  if (typeof operation !== "string") return no("the job document has no operation");
  switch (operation) {
    case "config.set": {
      // Field by field (not the whole document at once): what is valid is applied, the rest refused.
      if (!isRecord(document.settings))
        return no("config.set: settings must be an object (the shadow's desired shape)");
      const unknown = Object.keys(document).filter((k) => k !== "operation" && k !== "settings");
      if (unknown.length > 0) return no(`config.set: unknown field ${unknown[0]}`);
      const { settings, refused } = readDesiredSettings(document.settings);
      if (Object.keys(settings).length === 0 && refused.length === 0)
        return no("config.set: settings is empty");
      return { ok: true, job: { operation, settings, refused } };
    }
    case "agent.restart": {
      const read = decode(AgentRestartJob, document, operation);
      return Either.isLeft(read) ? no(read.left) : { ok: true, job: { operation } };
    }
    case "outbox.flush": {
      const read = decode(OutboxFlushJob, document, operation);
      return Either.isLeft(read) ? no(read.left) : { ok: true, job: { operation } };
    }
    case "agent.update": {
      const read = decode(AgentUpdateJob, document, operation);
      if (Either.isLeft(read)) return no(read.left);
      const { version, url, sha256 } = read.right;
      // The service replaces a presigned-URL placeholder before delivering: one left here cannot be fetched.
      if (!url.startsWith("https://"))
        return no(
          "agent.update: url must be an https URL (the presigned-URL placeholder was not replaced)",
        );
      return { ok: true, job: { operation, version, url, sha256 } };
    }
    case "certificate.rotate": {
      const read = decode(CertificateRotateJob, document, operation);
      return Either.isLeft(read)
        ? no(read.left)
        : { ok: true, job: { operation, template: read.right.template } };
    }
    default:
      return no(
        `unknown operation ${JSON.stringify(operation.slice(0, 64))}; this agent runs ${JOB_OPERATIONS.join(", ")}`,
      );
  }
};
