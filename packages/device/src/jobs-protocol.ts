// AWS IoT Jobs over MQTT as the agent reads it, on the shared protocol (`@medusa/adapters/jobs`):
// https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html
import {
  JobExecution as JobExecutionSchema,
  jobsTopicPrefix,
  MAX_STEP_TIMEOUT_MINUTES,
  MIN_STEP_TIMEOUT_MINUTES,
  TERMINAL_STATUSES,
} from "@medusa/adapters/jobs";
import { Option, Schema } from "effect";

export { MAX_STEP_TIMEOUT_MINUTES, MIN_STEP_TIMEOUT_MINUTES, TERMINAL_STATUSES };

/** `$aws/things/{thing}/jobs/{rest}`. */
export const jobsTopic = (thing: string, rest: string): string =>
  `${jobsTopicPrefix(thing)}/${rest}`;

/** A job execution as `start-next/accepted`, `notify-next` and `{jobId}/get/accepted` carry it. */
export interface JobExecution {
  readonly jobId: string;
  readonly status: string;
  readonly statusDetails: Readonly<Record<string, string>>;
  readonly jobDocument: unknown;
  readonly versionNumber: number;
  readonly executionNumber?: number;
}

const decodeExecution = Schema.decodeUnknownOption(JobExecutionSchema);

/** The execution in a response, or undefined when there is none (nothing pending) or it is malformed. */
export const readExecution = (body: unknown): JobExecution | undefined => {
  if (typeof body !== "object" || body === null || !("execution" in body)) return undefined;
  const e = decodeExecution(body.execution);
  if (Option.isNone(e)) return undefined;
  const x = e.value;
  return {
    jobId: x.jobId,
    status: x.status,
    statusDetails: x.statusDetails ?? {},
    jobDocument: x.jobDocument,
    versionNumber: x.versionNumber,
    executionNumber: x.executionNumber,
  };
};

/**
 * statusDetails as AWS takes them: keys 1-128 of `[a-zA-Z0-9:_-]`, values
 * 1-1024 characters without control characters. Values are cut (with …),
 * control characters replaced, empty values dropped, so that an update is
 * never refused for its details.
 */
export const statusDetails = (
  details: Readonly<Record<string, string | number | boolean>>,
): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [key, raw] of Object.entries(details)) {
    const k = key.replace(/[^a-zA-Z0-9:_-]/g, "_").slice(0, 128);
    const v = String(raw).replace(/\p{C}/gu, " ");
    if (k === "" || v.trim() === "") continue;
    out[k] = v.length > 1024 ? `${v.slice(0, 1023)}…` : v;
  }
  return out;
};
