// AWS IoT Jobs over MQTT as the device sees it (topics, the execution, error codes):
// https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html

/** `$aws/things/{thing}/jobs/{rest}`. */
export const jobsTopic = (thing: string, rest: string): string =>
  `$aws/things/${thing}/jobs/${rest}`;

/** Statuses a device may set (the others are the service's). */
export type DeviceJobStatus = "IN_PROGRESS" | "SUCCEEDED" | "FAILED" | "REJECTED";
export const TERMINAL_STATUSES: ReadonlyArray<string> = [
  "SUCCEEDED",
  "FAILED",
  "REJECTED",
  "TIMED_OUT",
  "REMOVED",
  "CANCELED",
];

/** A job execution as `start-next/accepted`, `notify-next` and `{jobId}/get/accepted` carry it. */
export interface JobExecution {
  readonly jobId: string;
  readonly status: string;
  readonly statusDetails: Readonly<Record<string, string>>;
  readonly jobDocument: unknown;
  readonly versionNumber: number;
  readonly executionNumber?: number;
}

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u);

/** A job id: 1-64 of `[a-zA-Z0-9_-]` (AWS's). */
export const JOB_ID = /^[a-zA-Z0-9_-]{1,64}$/;

/** The execution in a response, or undefined when there is none (nothing pending) or it is malformed. */
export const readExecution = (body: unknown): JobExecution | undefined => {
  if (!isRecord(body) || !isRecord(body.execution)) return undefined;
  const e = body.execution;
  if (typeof e.jobId !== "string" || !JOB_ID.test(e.jobId)) return undefined;
  if (typeof e.status !== "string" || typeof e.versionNumber !== "number") return undefined;
  const details: Record<string, string> = {};
  if (isRecord(e.statusDetails))
    for (const [k, v] of Object.entries(e.statusDetails)) if (typeof v === "string") details[k] = v;
  return {
    jobId: e.jobId,
    status: e.status,
    statusDetails: details,
    jobDocument: e.jobDocument,
    versionNumber: e.versionNumber,
    ...(typeof e.executionNumber === "number" ? { executionNumber: e.executionNumber } : {}),
  };
};

/** `stepTimeoutInMinutes`: 1 to 10080 (7 days). */
export const MIN_STEP_TIMEOUT_MINUTES = 1;
export const MAX_STEP_TIMEOUT_MINUTES = 10_080;

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
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
    const v = String(raw).replace(/[\u0000-\u001f\u007f-\u009f]/g, " ");
    if (k === "" || v === "") continue;
    out[k] = v.length > 1024 ? `${v.slice(0, 1023)}…` : v;
  }
  return out;
};
