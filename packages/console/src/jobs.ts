import type { Problem } from "./api.js";
import {
  type ConfigurationMessages,
  explainConfigurationRefusal,
} from "./configuration-refusals.js";

/** The job types the API creates (`DeviceJobRequest`); `null` for a job of another kind. */
export type JobType =
  | "config.set"
  | "agent.restart"
  | "agent.update"
  | "outbox.flush"
  | "certificate.rotate";

/** One of a device's jobs (`GET /api/devices/{id}/jobs`, the API's `DeviceJob`). */
export interface DeviceJob {
  readonly job_id: string;
  readonly device_id: string;
  readonly type: JobType | null;
  readonly status:
    | "QUEUED"
    | "IN_PROGRESS"
    | "SUCCEEDED"
    | "FAILED"
    | "TIMED_OUT"
    | "REJECTED"
    | "REMOVED"
    | "CANCELED";
  readonly status_details: Readonly<Record<string, string>>;
  readonly queued_at: number;
  readonly started_at: number | null;
  readonly last_updated_at: number;
  readonly version: number | null;
}

export interface DeviceJobs {
  readonly device_id: string;
  readonly jobs: ReadonlyArray<DeviceJob>;
}

/** What a job does, in the clinic's words. */
export const JOB_TYPE_WORDS: Readonly<Record<JobType, string>> = {
  "outbox.flush": "Send the waiting samples now",
  "agent.restart": "Restart the device's agent",
  "config.set": "Change settings",
  "agent.update": "Update the device's agent",
  "certificate.rotate": "Renew the device's certificate",
};
export const jobTypeWords = (type: JobType | null): string =>
  type === null ? "Another kind of job" : JOB_TYPE_WORDS[type];

/** A job's status in words, and whether it has ended. */
export const STATUS_WORDS: Readonly<Record<DeviceJob["status"], string>> = {
  QUEUED: "Queued: waiting for the device",
  IN_PROGRESS: "Running on the device",
  SUCCEEDED: "Succeeded",
  FAILED: "Failed",
  TIMED_OUT: "Timed out",
  REJECTED: "Refused by the device",
  REMOVED: "Removed",
  CANCELED: "Cancelled",
};
export const ended = (status: DeviceJob["status"]): boolean =>
  status !== "QUEUED" && status !== "IN_PROGRESS";

/** The badge's class: ok (succeeded), pending (queued, running) or offline (anything that did not). */
export const statusTone = (status: DeviceJob["status"]): "free" | "pending" | "offline" =>
  status === "SUCCEEDED" ? "free" : ended(status) ? "offline" : "pending";

/** The words a detail's key stands for (the device agent's `statusDetails`). */
const DETAIL_WORDS: Readonly<Record<string, string>> = {
  reason: "Reason",
  applied: "Applied",
  refused: "Refused",
  held: "Batches held",
  published: "Batches sent",
  left: "Batches left",
  step: "Step",
  version: "Agent version",
  previous: "Previous version",
  restarted: "Restarted",
  note: "Note",
};

/** The settings a `config.set` names, as the agent names them (`DeviceSettings`'s keys) and as the forms do. */
const SETTING_WORDS: Readonly<Record<string, string>> = {
  sampleRateHz: "sample rate",
  publishIntervalMs: "publish interval",
  statusIntervalMs: "status interval",
  live: "live mode",
  "sensor.sample_rate_hz": "sample rate",
  "publish.interval_ms": "publish interval",
  "publish.status_interval_ms": "status interval",
};
const settingWords = (text: string) =>
  text.replace(/[A-Za-z_.]+/g, (word) => SETTING_WORDS[word] ?? word);

/**
 * What the device said of the job (`status_details`): the reason first, then
 * the other figures in the order the device gave them; the settings named in
 * the forms' words.
 */
export const detailsWords = (
  details: Readonly<Record<string, string>>,
): ReadonlyArray<{ readonly label: string; readonly value: string }> =>
  Object.entries(details)
    .sort(([a], [b]) => (a === "reason" ? -1 : b === "reason" ? 1 : 0))
    .map(([key, value]) => ({
      label: DETAIL_WORDS[key] ?? key,
      value: key === "applied" || key === "refused" ? settingWords(value) : value,
    }));

/**
 * The API's refusal of a job, in plain words next to what it concerns: a
 * `config.set`'s settings next to their fields (as the configuration panel
 * says them), the rest above the form's button.
 */
export const explainJobRefusal = (problem: Problem): ConfigurationMessages => {
  const slug = problem.type.split("/").pop() ?? "";
  const detail = problem.detail ?? problem.title;
  switch (slug) {
    case "validation-error": {
      // The job's settings are the configuration route's, under `settings`.
      const errors = (problem.errors ?? []).map((e) => ({
        ...e,
        path: e.path.replace(/^settings\./, ""),
      }));
      const settingsWide = errors.find((e) => e.path === "settings");
      if (settingsWide)
        return { form: "Enter a new sample rate, a new publish interval, or both." };
      return explainConfigurationRefusal({ ...problem, errors });
    }
    case "job-refused":
      return {
        form: `The Jobs service refused the job: ${String(problem.detail ?? problem.title).replace(/^the Jobs service refused a job for \S+: /, "")}.`,
      };
    case "device-not-registered":
      return {
        form: "This device is not registered with the Jobs service (it has no certificate of its own yet), so it cannot be sent a job.",
      };
    case "jobs-unavailable":
      return {
        form: "The Jobs service is unavailable. Nothing was started; try again in a moment.",
      };
    case "forbidden":
      return { form: "Your role may read a device's jobs but not start one." };
    case "network-error":
      return {
        form: "The server did not answer: the job may or may not have been queued. Look at the list before starting it again.",
      };
    default:
      return { form: `The server refused the job: ${detail}.` };
  }
};
