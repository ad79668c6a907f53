import type {
  DeviceJobStatus,
  JobExecution,
  JobExecutionState,
  JobExecutionStatus,
  JobExecutionSummary,
  JobsErrorCode,
  StatusDetails,
  UpdateJobExecutionRequest,
} from "./messages.js";
import { DEVICE_STATUSES } from "./messages.js";

/**
 * A job execution's life, as pure functions
 * (https://docs.aws.amazon.com/iot/latest/developerguide/iot-jobs-lifecycle.html):
 * QUEUED → IN_PROGRESS → SUCCEEDED | FAILED | REJECTED, set by the device
 * (which may also finish a QUEUED execution directly); TIMED_OUT when a step
 * or in-progress timer runs out; CANCELED and REMOVED by the control plane.
 * Terminal states are final. Every accepted change adds one to the version.
 * No clock: times come in as epoch milliseconds and go out, on the wire, as
 * seconds.
 */

export const TERMINAL_STATUSES: ReadonlyArray<JobExecutionStatus> = [
  "SUCCEEDED",
  "FAILED",
  "TIMED_OUT",
  "REJECTED",
  "REMOVED",
  "CANCELED",
];

export const isTerminal = (status: JobExecutionStatus): boolean =>
  TERMINAL_STATUSES.includes(status);

/** QUEUED or IN_PROGRESS: on the thing's pending list. */
export const isPending = (status: JobExecutionStatus): boolean =>
  status === "QUEUED" || status === "IN_PROGRESS";

export const isDeviceStatus = (status: JobExecutionStatus): status is DeviceJobStatus =>
  (DEVICE_STATUSES as ReadonlyArray<JobExecutionStatus>).includes(status);

/** One job's execution on one thing, as the service keeps it (times in epoch ms). */
export interface ExecutionRecord {
  readonly jobId: string;
  readonly thingName: string;
  readonly status: JobExecutionStatus;
  readonly statusDetails?: StatusDetails;
  readonly queuedAt: number;
  readonly startedAt?: number;
  readonly lastUpdatedAt: number;
  readonly versionNumber: number;
  readonly executionNumber: number;
  /** How many retries came before this execution (the job's retry config queues a new one). */
  readonly retryAttempt?: number;
  /** When the step timer runs out (set by start-next or an update to IN_PROGRESS). */
  readonly stepTimeoutAt?: number;
  /** When the job's in-progress timer runs out (from the first IN_PROGRESS). */
  readonly inProgressTimeoutAt?: number;
}

/** The job settings an execution's life depends on. */
export interface ExecutionPolicy {
  /** The job's `timeoutConfig.inProgressTimeoutInMinutes`, if any. */
  readonly inProgressTimeoutInMinutes?: number;
}

/** A refusal: the documented code, a message, and the state for the two codes that carry it. */
export interface ExecutionRefusal {
  readonly code: JobsErrorCode;
  readonly message: string;
  readonly executionState?: JobExecutionState;
}

export type ExecutionOutcome =
  | { readonly ok: true; readonly record: ExecutionRecord }
  | { readonly ok: false; readonly refusal: ExecutionRefusal };

const MINUTE_MS = 60_000;

/** A new execution, as CreateJob queues it: version 1. */
export const queuedExecution = (
  jobId: string,
  thingName: string,
  nowMs: number,
  executionNumber = 1,
  retryAttempt = 0,
): ExecutionRecord => ({
  jobId,
  thingName,
  status: "QUEUED",
  queuedAt: nowMs,
  lastUpdatedAt: nowMs,
  versionNumber: 1,
  executionNumber,
  ...(retryAttempt > 0 ? { retryAttempt } : {}),
});

/** Whether the device may move an execution from one status to another, and why not. */
export const deviceTransition = (
  from: JobExecutionStatus,
  to: JobExecutionStatus,
): { readonly ok: true } | { readonly ok: false; readonly code: JobsErrorCode } => {
  if (!isDeviceStatus(to)) return { ok: false, code: "InvalidRequest" };
  if (isTerminal(from)) return { ok: false, code: "InvalidStateTransition" };
  return { ok: true };
};

/** The control plane's changes: a cancel (IN_PROGRESS only with force), a removal, a timeout. */
export const controlTransition = (
  from: JobExecutionStatus,
  to: "CANCELED" | "REMOVED" | "TIMED_OUT",
  options: { readonly force?: boolean } = {},
): boolean => {
  if (isTerminal(from)) return false;
  switch (to) {
    case "CANCELED":
      return from === "QUEUED" || options.force === true;
    case "REMOVED":
      return true;
    case "TIMED_OUT":
      return from === "IN_PROGRESS";
  }
};

export const executionState = (record: ExecutionRecord): JobExecutionState => ({
  status: record.status,
  ...(record.statusDetails !== undefined ? { statusDetails: record.statusDetails } : {}),
  versionNumber: record.versionNumber,
});

const refuse = (
  code: JobsErrorCode,
  message: string,
  record?: ExecutionRecord,
): ExecutionOutcome => ({
  ok: false,
  refusal: {
    code,
    message,
    ...(record !== undefined ? { executionState: executionState(record) } : {}),
  },
});

/** Moves to IN_PROGRESS (or keeps it), starting the timers the request and the job ask for. */
const inProgress = (
  record: ExecutionRecord,
  nowMs: number,
  policy: ExecutionPolicy,
  stepTimeoutInMinutes: number | undefined,
): Pick<ExecutionRecord, "startedAt" | "stepTimeoutAt" | "inProgressTimeoutAt"> => {
  const startedAt = record.startedAt ?? nowMs;
  const inProgressTimeoutAt =
    record.inProgressTimeoutAt ??
    (policy.inProgressTimeoutInMinutes !== undefined
      ? startedAt + policy.inProgressTimeoutInMinutes * MINUTE_MS
      : undefined);
  // "A new step timer replaces the previous one"; without one, the previous keeps running.
  const stepTimeoutAt =
    stepTimeoutInMinutes !== undefined
      ? nowMs + stepTimeoutInMinutes * MINUTE_MS
      : record.stepTimeoutAt;
  return {
    startedAt,
    ...(stepTimeoutAt !== undefined ? { stepTimeoutAt } : {}),
    ...(inProgressTimeoutAt !== undefined ? { inProgressTimeoutAt } : {}),
  };
};

/** The record without timers: a terminal execution has none running. */
const withoutTimers = ({
  stepTimeoutAt: _s,
  inProgressTimeoutAt: _i,
  ...rest
}: ExecutionRecord): ExecutionRecord => rest;

/**
 * UpdateJobExecution on one execution (already found by job id and, when
 * given, execution number): version check, then the transition, then the new
 * state. statusDetails, when sent, replace the previous ones.
 */
export const updateExecution = (
  record: ExecutionRecord,
  request: Pick<
    UpdateJobExecutionRequest,
    "status" | "statusDetails" | "expectedVersion" | "stepTimeoutInMinutes"
  >,
  nowMs: number,
  policy: ExecutionPolicy = {},
): ExecutionOutcome => {
  if (request.expectedVersion !== undefined && request.expectedVersion !== record.versionNumber)
    return refuse(
      "VersionMismatch",
      `expected version ${request.expectedVersion} but the job execution is at version ${record.versionNumber}`,
      record,
    );
  const transition = deviceTransition(record.status, request.status);
  if (!transition.ok)
    return transition.code === "InvalidRequest"
      ? refuse(
          "InvalidRequest",
          `status ${request.status} cannot be set by a device: use one of ${DEVICE_STATUSES.join(", ")}`,
        )
      : refuse(
          "InvalidStateTransition",
          `the job execution is ${record.status}, a terminal state: it cannot become ${request.status}`,
          record,
        );
  const base: ExecutionRecord = {
    ...record,
    status: request.status,
    ...(request.statusDetails !== undefined ? { statusDetails: request.statusDetails } : {}),
    lastUpdatedAt: nowMs,
    versionNumber: record.versionNumber + 1,
  };
  if (request.status === "IN_PROGRESS")
    return {
      ok: true,
      record: { ...base, ...inProgress(record, nowMs, policy, request.stepTimeoutInMinutes) },
    };
  return { ok: true, record: withoutTimers(base) };
};

/**
 * StartNextPendingJobExecution on the next pending execution: a QUEUED one
 * becomes IN_PROGRESS with the request's statusDetails (version + 1); an
 * IN_PROGRESS one keeps its status details and version, and gets the new step
 * timer if one is asked for.
 */
export const startExecution = (
  record: ExecutionRecord,
  request: { readonly statusDetails?: StatusDetails; readonly stepTimeoutInMinutes?: number },
  nowMs: number,
  policy: ExecutionPolicy = {},
): ExecutionOutcome => {
  if (record.status === "IN_PROGRESS") {
    if (request.stepTimeoutInMinutes === undefined) return { ok: true, record };
    return {
      ok: true,
      record: { ...record, ...inProgress(record, nowMs, policy, request.stepTimeoutInMinutes) },
    };
  }
  if (record.status !== "QUEUED")
    return refuse(
      "InvalidStateTransition",
      `the job execution is ${record.status}, a terminal state`,
      record,
    );
  return {
    ok: true,
    record: {
      ...record,
      status: "IN_PROGRESS",
      ...(request.statusDetails !== undefined ? { statusDetails: request.statusDetails } : {}),
      lastUpdatedAt: nowMs,
      versionNumber: record.versionNumber + 1,
      ...inProgress(record, nowMs, policy, request.stepTimeoutInMinutes),
    },
  };
};

/** The control plane ends an execution (cancel, removal, timeout); undefined when it may not. */
export const endExecution = (
  record: ExecutionRecord,
  to: "CANCELED" | "REMOVED" | "TIMED_OUT",
  nowMs: number,
  options: { readonly force?: boolean } = {},
): ExecutionRecord | undefined =>
  controlTransition(record.status, to, options)
    ? withoutTimers({
        ...record,
        status: to,
        lastUpdatedAt: nowMs,
        versionNumber: record.versionNumber + 1,
      })
    : undefined;

/** When the execution times out, if a timer runs: the earlier of the step and in-progress timers. */
export const timeoutAt = (record: ExecutionRecord): number | undefined => {
  if (record.status !== "IN_PROGRESS") return undefined;
  const times = [record.stepTimeoutAt, record.inProgressTimeoutAt].filter(
    (t): t is number => t !== undefined,
  );
  return times.length === 0 ? undefined : Math.min(...times);
};

/**
 * The thing's pending executions in the service's order: IN_PROGRESS before
 * QUEUED, then by when they were queued (the input's order breaks ties, so
 * pass them in creation order).
 */
export const pendingInOrder = (
  records: ReadonlyArray<ExecutionRecord>,
): ReadonlyArray<ExecutionRecord> =>
  records
    .filter((r) => isPending(r.status))
    .map((r, i) => [r, i] as const)
    .sort(
      ([a, ia], [b, ib]) =>
        (a.status === "IN_PROGRESS" ? 0 : 1) - (b.status === "IN_PROGRESS" ? 0 : 1) ||
        a.queuedAt - b.queuedAt ||
        ia - ib,
    )
    .map(([r]) => r);

export const epochSeconds = (ms: number): number => Math.floor(ms / 1000);

/** JobExecutionSummary of a record. */
export const executionSummary = (record: ExecutionRecord): JobExecutionSummary => ({
  jobId: record.jobId,
  queuedAt: epochSeconds(record.queuedAt),
  ...(record.startedAt !== undefined ? { startedAt: epochSeconds(record.startedAt) } : {}),
  lastUpdatedAt: epochSeconds(record.lastUpdatedAt),
  versionNumber: record.versionNumber,
  executionNumber: record.executionNumber,
});

/** JobExecution of a record, with its job document when given. */
export const jobExecution = (
  record: ExecutionRecord,
  nowMs: number,
  jobDocument?: Readonly<Record<string, unknown>>,
): JobExecution => {
  const deadline = timeoutAt(record);
  return {
    jobId: record.jobId,
    thingName: record.thingName,
    status: record.status,
    ...(record.statusDetails !== undefined ? { statusDetails: record.statusDetails } : {}),
    queuedAt: epochSeconds(record.queuedAt),
    ...(record.startedAt !== undefined ? { startedAt: epochSeconds(record.startedAt) } : {}),
    lastUpdatedAt: epochSeconds(record.lastUpdatedAt),
    versionNumber: record.versionNumber,
    executionNumber: record.executionNumber,
    ...(deadline !== undefined
      ? { approximateSecondsBeforeTimedOut: Math.max(0, Math.ceil((deadline - nowMs) / 1000)) }
      : {}),
    ...(jobDocument !== undefined ? { jobDocument } : {}),
  };
};
