// The job documents the agent executes, `{"operation": ...}`, read with the rules the agent already has.
import { type DeviceSettings, readDesiredSettings, type SettingRefusal } from "@medusa/domain";

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
    };

export type JobOperation = AgentJob["operation"];
export const JOB_OPERATIONS: ReadonlyArray<JobOperation> = [
  "config.set",
  "agent.restart",
  "outbox.flush",
  "agent.update",
];

/** A job document, read: the job, or why the agent does not understand it (→ REJECTED). */
export type ReadJob =
  | { readonly ok: true; readonly job: AgentJob }
  | { readonly ok: false; readonly reason: string };

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u);
const VERSION = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/;
const SHA256 = /^[0-9a-fA-F]{64}$/;
const no = (reason: string): ReadJob => ({ ok: false, reason });

/** Reads a job document (as the Jobs service gives it over MQTT: a JSON object). */
export const readJobDocument = (document: unknown): ReadJob => {
  if (!isRecord(document)) return no("the job document is not a JSON object");
  const operation = document.operation;
  if (typeof operation !== "string") return no("the job document has no operation");
  const extra = (allowed: ReadonlyArray<string>) =>
    Object.keys(document).filter((k) => k !== "operation" && !allowed.includes(k));
  switch (operation) {
    case "config.set": {
      if (!isRecord(document.settings))
        return no("config.set: settings must be an object (the shadow's desired shape)");
      const unknown = extra(["settings"]);
      if (unknown.length > 0) return no(`config.set: unknown field ${unknown[0]}`);
      const { settings, refused } = readDesiredSettings(document.settings);
      if (Object.keys(settings).length === 0 && refused.length === 0)
        return no("config.set: settings is empty");
      return { ok: true, job: { operation, settings, refused } };
    }
    case "agent.restart":
    case "outbox.flush": {
      const unknown = extra([]);
      if (unknown.length > 0) return no(`${operation}: unknown field ${unknown[0]}`);
      return { ok: true, job: { operation } };
    }
    case "agent.update": {
      const { version, url, sha256 } = document;
      const unknown = extra(["version", "url", "sha256"]);
      if (unknown.length > 0) return no(`agent.update: unknown field ${unknown[0]}`);
      if (typeof version !== "string" || !VERSION.test(version))
        return no("agent.update: version must be 1-64 of [0-9A-Za-z.+_-]");
      if (typeof sha256 !== "string" || !SHA256.test(sha256))
        return no("agent.update: sha256 must be 64 hex digits");
      if (typeof url !== "string") return no("agent.update: url must be an https URL");
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        return no("agent.update: url is not a URL");
      }
      if (parsed.protocol !== "https:") return no("agent.update: url must be an https URL");
      return { ok: true, job: { operation, version, url, sha256: sha256.toLowerCase() } };
    }
    default:
      return no(
        `unknown operation ${JSON.stringify(operation.slice(0, 64))}; this agent runs ${JOB_OPERATIONS.join(", ")}`,
      );
  }
};
