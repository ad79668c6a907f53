import { Schema } from "effect";
import { JOB_ID, NEXT_JOB, THING_NAME } from "./topics.js";

/**
 * The Jobs device API's documents, as `effect/Schema` schemas
 * (https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-https-api.html,
 * field limits from the iot-jobs-data API reference). Timestamps are epoch
 * **seconds**, as the service writes them on the device plane; over MQTT the
 * job document is a JSON object, not a string.
 */

const optional = <A, I, R>(s: Schema.Schema<A, I, R>) => Schema.optionalWith(s, { exact: true });

/** Every status a job execution may have. */
export const JOB_EXECUTION_STATUSES = [
  "QUEUED",
  "IN_PROGRESS",
  "SUCCEEDED",
  "FAILED",
  "TIMED_OUT",
  "REJECTED",
  "REMOVED",
  "CANCELED",
] as const;
export const JobExecutionStatus = Schema.Literal(...JOB_EXECUTION_STATUSES);
export type JobExecutionStatus = typeof JobExecutionStatus.Type;

/** The statuses a device may ask for in UpdateJobExecution. */
export const DEVICE_STATUSES = ["IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"] as const;
export const DeviceJobStatus = Schema.Literal(...DEVICE_STATUSES);
export type DeviceJobStatus = typeof DeviceJobStatus.Type;

export const ThingName = Schema.String.pipe(Schema.pattern(THING_NAME));
export const JobId = Schema.String.pipe(Schema.pattern(JOB_ID));

/** "The client token can be no longer than 64 bytes" (the MQTT APIs' common limit). */
export const MAX_CLIENT_TOKEN_BYTES = 64;
export const ClientToken = Schema.String.pipe(
  Schema.filter((s) => Buffer.byteLength(s, "utf8") <= MAX_CLIENT_TOKEN_BYTES, {
    message: () => `clientToken must be at most ${MAX_CLIENT_TOKEN_BYTES} bytes`,
  }),
);

/** statusDetails keys: 1-128 characters of `[a-zA-Z0-9:_-]`. */
export const DetailsKey = Schema.String.pipe(
  Schema.pattern(/^[a-zA-Z0-9:_-]{1,128}$/, {
    message: () => "a statusDetails key is 1-128 characters of [a-zA-Z0-9:_-]",
  }),
);
/** statusDetails values: 1-1024 characters, no control characters. */
export const DetailsValue = Schema.String.pipe(
  Schema.filter((s) => s.length >= 1 && s.length <= 1024 && !/\p{C}/u.test(s), {
    message: () => "a statusDetails value is 1-1024 characters without control characters",
  }),
);
/** A key outside the pattern is an error, not an excess property to drop. */
export const StatusDetails = Schema.Record({ key: DetailsKey, value: DetailsValue }).annotations({
  parseOptions: { onExcessProperty: "error" },
});
export type StatusDetails = typeof StatusDetails.Type;

/** `stepTimeoutInMinutes`: 1 minute to 7 days. */
export const MIN_STEP_TIMEOUT_MINUTES = 1;
export const MAX_STEP_TIMEOUT_MINUTES = 10_080;
export const StepTimeoutInMinutes = Schema.Number.pipe(
  Schema.int(),
  Schema.between(MIN_STEP_TIMEOUT_MINUTES, MAX_STEP_TIMEOUT_MINUTES, {
    message: () =>
      `stepTimeoutInMinutes must be a whole number between ${MIN_STEP_TIMEOUT_MINUTES} and ${MAX_STEP_TIMEOUT_MINUTES}`,
  }),
);

/** "The content of the job document": at most 32,768 characters. */
export const MAX_JOB_DOCUMENT_CHARS = 32_768;

const Seconds = Schema.Number.pipe(Schema.int(), Schema.nonNegative());
const Count = Schema.Number.pipe(Schema.int(), Schema.nonNegative());
/** A job document as delivered over MQTT: a JSON object. */
export const JobDocumentJson = Schema.Record({ key: Schema.String, value: Schema.Unknown });

// ---- data types ----

/** JobExecution: one job's execution on one thing. */
export const JobExecution = Schema.Struct({
  jobId: JobId,
  thingName: ThingName,
  status: JobExecutionStatus,
  statusDetails: optional(StatusDetails),
  queuedAt: Seconds,
  startedAt: optional(Seconds),
  lastUpdatedAt: Seconds,
  versionNumber: Count,
  executionNumber: Count,
  /** Seconds left before the execution times out (when a timer runs). */
  approximateSecondsBeforeTimedOut: optional(Count),
  jobDocument: optional(JobDocumentJson),
});
export type JobExecution = typeof JobExecution.Type;

/** JobExecutionState: what an update answers and a rejection carries. */
export const JobExecutionState = Schema.Struct({
  status: JobExecutionStatus,
  statusDetails: optional(StatusDetails),
  versionNumber: Count,
});
export type JobExecutionState = typeof JobExecutionState.Type;

/** JobExecutionSummary: an entry of the pending lists. */
export const JobExecutionSummary = Schema.Struct({
  jobId: JobId,
  queuedAt: Seconds,
  startedAt: optional(Seconds),
  lastUpdatedAt: Seconds,
  versionNumber: Count,
  executionNumber: Count,
});
export type JobExecutionSummary = typeof JobExecutionSummary.Type;

/** The documented error codes. */
export const JOBS_ERROR_CODES = [
  "InvalidTopic",
  "InvalidJson",
  "InvalidRequest",
  "InvalidStateTransition",
  "ResourceNotFound",
  "VersionMismatch",
  "InternalError",
  "RequestThrottled",
  "TerminalStateReached",
] as const;
export const JobsErrorCode = Schema.Literal(...JOBS_ERROR_CODES);
export type JobsErrorCode = typeof JobsErrorCode.Type;

/**
 * ErrorResponse, on every `…/rejected` topic. `executionState` only with
 * `InvalidStateTransition` and `VersionMismatch`.
 */
export const JobsErrorResponse = Schema.Struct({
  code: JobsErrorCode,
  message: Schema.String,
  clientToken: optional(Schema.String),
  timestamp: Seconds,
  executionState: optional(JobExecutionState),
});
export type JobsErrorResponse = typeof JobsErrorResponse.Type;

// ---- requests (what the device publishes) ----

/** `$aws/things/{thing}/jobs/get` */
export const GetPendingJobExecutionsRequest = Schema.Struct({ clientToken: optional(ClientToken) });
export type GetPendingJobExecutionsRequest = typeof GetPendingJobExecutionsRequest.Type;

/** `$aws/things/{thing}/jobs/start-next` */
export const StartNextPendingJobExecutionRequest = Schema.Struct({
  statusDetails: optional(StatusDetails),
  stepTimeoutInMinutes: optional(StepTimeoutInMinutes),
  clientToken: optional(ClientToken),
});
export type StartNextPendingJobExecutionRequest = typeof StartNextPendingJobExecutionRequest.Type;

/** `$aws/things/{thing}/jobs/{jobId}/get` (includeJobDocument defaults to true) */
export const DescribeJobExecutionRequest = Schema.Struct({
  executionNumber: optional(Count),
  includeJobDocument: optional(Schema.Boolean),
  clientToken: optional(ClientToken),
});
export type DescribeJobExecutionRequest = typeof DescribeJobExecutionRequest.Type;

/**
 * `$aws/things/{thing}/jobs/{jobId}/update`. `status` is checked against the
 * device's statuses by the state machine, so that a status the device may not
 * set is told apart from a malformed request.
 */
export const UpdateJobExecutionRequest = Schema.Struct({
  status: JobExecutionStatus,
  statusDetails: optional(StatusDetails),
  expectedVersion: optional(Count),
  executionNumber: optional(Count),
  includeJobExecutionState: optional(Schema.Boolean),
  includeJobDocument: optional(Schema.Boolean),
  stepTimeoutInMinutes: optional(StepTimeoutInMinutes),
  clientToken: optional(ClientToken),
});
export type UpdateJobExecutionRequest = typeof UpdateJobExecutionRequest.Type;

// ---- answers and notifications (what the service publishes) ----

/** `…/jobs/get/accepted` */
export const GetPendingJobExecutionsResponse = Schema.Struct({
  inProgressJobs: Schema.Array(JobExecutionSummary),
  queuedJobs: Schema.Array(JobExecutionSummary),
  timestamp: Seconds,
  clientToken: optional(Schema.String),
});
export type GetPendingJobExecutionsResponse = typeof GetPendingJobExecutionsResponse.Type;

/** `…/jobs/start-next/accepted`: no `execution` when nothing is pending. */
export const StartNextPendingJobExecutionResponse = Schema.Struct({
  execution: optional(JobExecution),
  timestamp: Seconds,
  clientToken: optional(Schema.String),
});
export type StartNextPendingJobExecutionResponse = typeof StartNextPendingJobExecutionResponse.Type;

/** `…/jobs/{jobId}/get/accepted` */
export const DescribeJobExecutionResponse = Schema.Struct({
  execution: JobExecution,
  timestamp: Seconds,
  clientToken: optional(Schema.String),
});
export type DescribeJobExecutionResponse = typeof DescribeJobExecutionResponse.Type;

/** `…/jobs/{jobId}/update/accepted` */
export const UpdateJobExecutionResponse = Schema.Struct({
  executionState: optional(JobExecutionState),
  jobDocument: optional(JobDocumentJson),
  timestamp: Seconds,
  clientToken: optional(Schema.String),
});
export type UpdateJobExecutionResponse = typeof UpdateJobExecutionResponse.Type;

/** `…/jobs/notify` (JobExecutionsChanged): the pending executions by status; `{}` when none. */
export const JobExecutionsChanged = Schema.Struct({
  jobs: Schema.Struct({
    QUEUED: optional(Schema.Array(JobExecutionSummary)),
    IN_PROGRESS: optional(Schema.Array(JobExecutionSummary)),
  }),
  timestamp: Seconds,
});
export type JobExecutionsChanged = typeof JobExecutionsChanged.Type;

/** `…/jobs/notify-next` (NextJobExecutionChanged): no `execution` when nothing is pending any more. */
export const NextJobExecutionChanged = Schema.Struct({
  execution: optional(JobExecution),
  timestamp: Seconds,
});
export type NextJobExecutionChanged = typeof NextJobExecutionChanged.Type;

/** Whether a DescribeJobExecution names the next pending execution rather than a job. */
export const isNextJob = (jobId: string): boolean => jobId === NEXT_JOB;

/**
 * A ListNotification (`notify`) lists at most this many pending executions
 * (10 without a scheduling configuration; 15 in all with one).
 */
export const MAX_NOTIFY_LIST = 10;
