import { Context, type Effect, Schema } from "effect";
import type { DeviceSettings } from "../device-settings.js";
import { DeviceId } from "../ids.js";

/**
 * One-off work for a device, carried by AWS IoT Jobs: set durable settings
 * (the same ones, with the same rules, as the shadow's desired state),
 * restart the agent, update it to a bundle checked by its SHA-256, send
 * what its outbox holds now, or rotate its certificate (a new key made on the
 * device; the old certificate is deactivated only once the new one connected).
 */
export type DeviceJobRequest =
  | { readonly type: "config.set"; readonly settings: DeviceSettings }
  | { readonly type: "agent.restart" }
  | {
      readonly type: "agent.update";
      readonly version: string;
      /** The bundle's key in the agent bundle bucket (locally: its file name in the bundles folder). */
      readonly bundleKey: string;
      /** Lower-case hex. */
      readonly sha256: string;
    }
  | { readonly type: "outbox.flush" }
  | { readonly type: "certificate.rotate" };

export const DEVICE_JOB_TYPES = [
  "config.set",
  "agent.restart",
  "agent.update",
  "outbox.flush",
  "certificate.rotate",
] as const;
export type DeviceJobType = (typeof DEVICE_JOB_TYPES)[number];

export const DEVICE_JOB_STATUSES = [
  "QUEUED",
  "IN_PROGRESS",
  "SUCCEEDED",
  "FAILED",
  "TIMED_OUT",
  "REJECTED",
  "REMOVED",
  "CANCELED",
] as const;
export type DeviceJobStatus = (typeof DEVICE_JOB_STATUSES)[number];

/**
 * How many times a job is run again on a device, by how its execution ended.
 * Every MeDUSA job is run once more when its execution TIMED_OUT (the device
 * lost power or its connection mid-job and its step timer ran out): each job
 * type is safe to run again (settings are applied whole, an update is checked
 * by its sha256 and swapped atomically, a restart or a flush twice is
 * harmless). A FAILED or REJECTED execution is not run again: the agent
 * reports those when running it again would fail the same way (a bad
 * checksum, a setting it refuses).
 */
export interface DeviceJobRetry {
  /** Runs after an execution that TIMED_OUT (0-10). */
  readonly afterTimedOut: number;
  /** Runs after an execution that FAILED (0-10). */
  readonly afterFailed: number;
}

/** The retry every MeDUSA job is created with: one more run after a TIMED_OUT execution. */
export const DEVICE_JOB_RETRY: DeviceJobRetry = { afterTimedOut: 1, afterFailed: 0 };

/** A job's execution on one device, as the Jobs service reports it. */
export interface DeviceJob {
  readonly jobId: string;
  readonly deviceId: DeviceId;
  /** The job's type, when the job is one of ours (read from its id). */
  readonly type: DeviceJobType | undefined;
  readonly status: DeviceJobStatus;
  /** What the device last said about it (step, reason, outcome). */
  readonly statusDetails: Readonly<Record<string, string>>;
  /** Epoch ms (the service keeps seconds). */
  readonly queuedAt: number;
  readonly startedAt: number | undefined;
  readonly lastUpdatedAt: number;
  readonly executionNumber: number | undefined;
  readonly versionNumber: number | undefined;
}

/** The Jobs service refused the job (an invalid request, a limit). */
export class DeviceJobRejected extends Schema.TaggedError<DeviceJobRejected>()(
  "DeviceJobRejected",
  { deviceId: DeviceId, reason: Schema.String },
) {
  override get message(): string {
    return `the Jobs service refused a job for ${this.deviceId}: ${this.reason}`;
  }
}

/** The device is not a thing the Jobs service knows. */
export class DeviceNotRegistered extends Schema.TaggedError<DeviceNotRegistered>()(
  "DeviceNotRegistered",
  { deviceId: DeviceId },
) {
  override get message(): string {
    return `device ${this.deviceId} is not a registered thing`;
  }
}

/** The Jobs service could not be reached or failed (not a refusal). */
export class DeviceJobsUnavailable extends Schema.TaggedError<DeviceJobsUnavailable>()(
  "DeviceJobsUnavailable",
  { operation: Schema.String, reason: Schema.String },
) {
  override get message(): string {
    return `the Jobs service failed to ${this.operation}: ${this.reason}`;
  }
}

/**
 * Jobs for devices: create one for one device, list one device's. AWS IoT
 * Jobs in production, the local broker's emulation of it on one machine.
 */
export interface DeviceJobsService {
  /** Creates the job `jobId` for the device; its execution as queued. */
  readonly create: (
    deviceId: DeviceId,
    jobId: string,
    request: DeviceJobRequest,
  ) => Effect.Effect<DeviceJob, DeviceJobRejected | DeviceNotRegistered | DeviceJobsUnavailable>;
  /** The device's job executions, any status. */
  readonly list: (
    deviceId: DeviceId,
  ) => Effect.Effect<ReadonlyArray<DeviceJob>, DeviceJobsUnavailable>;
}

export class DeviceJobs extends Context.Tag("@medusa/DeviceJobs")<
  DeviceJobs,
  DeviceJobsService
>() {}

/** A job id for a new job: its type (so a listing can tell it) and a unique suffix, 1-64 of `[a-zA-Z0-9_-]`. */
export const deviceJobId = (type: DeviceJobType, unique: string): string =>
  `${type.replace(".", "-")}-${unique.replace(/[^a-zA-Z0-9_-]/g, "")}`.slice(0, 64);

/** The type a job id names, if it is one of ours. */
export const deviceJobTypeOf = (jobId: string): DeviceJobType | undefined =>
  DEVICE_JOB_TYPES.find((t) => jobId.startsWith(`${t.replace(".", "-")}-`));
