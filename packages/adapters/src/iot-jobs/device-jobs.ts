import {
  CreateJobCommand,
  DescribeJobExecutionCommand,
  DescribeThingCommand,
  IoTClient,
  type IoTClientConfig,
  type JobExecution as IotJobExecution,
  ListJobExecutionsForThingCommand,
} from "@aws-sdk/client-iot";
import {
  DEVICE_JOB_RETRY,
  DEVICE_JOB_STATUSES,
  type DeviceId,
  type DeviceJob,
  DeviceJobRejected,
  type DeviceJobRequest,
  type DeviceJobRetry,
  type DeviceJobStatus,
  type DeviceJobsService,
  DeviceJobsUnavailable,
  DeviceNotRegistered,
  deviceJobTypeOf,
  settingsState,
} from "@medusa/domain";
import { Effect, Either, Schema } from "effect";
import {
  type JobDocument,
  presignedUrlPlaceholder,
  RotationTemplateName,
} from "../jobs/document.js";
import type { JobExecutionsRetryConfig, RetryCriteria } from "../jobs/job-configs.js";

/** Where agent bundles are and how the Jobs service presigns their URLs. */
export interface DeviceJobsSettings {
  /** The agent bundle bucket (`MEDUSA_AGENT_BUNDLE_BUCKET`). */
  readonly bundleBucket: string;
  /** The role the Jobs service assumes to presign bundle URLs (`MEDUSA_JOBS_PRESIGN_ROLE_ARN`). */
  readonly presignRoleArn: string;
  /** How long a presigned URL is valid (60-3600 s; 3600 when absent). */
  readonly presignExpiresInSec?: number;
  /** How long a started execution may run before it is TIMED_OUT (minutes). */
  readonly inProgressTimeoutInMinutes?: number;
  /**
   * Put before every job id this adapter creates (`MEDUSA_JOB_ID_PREFIX`, e.g.
   * `medusa-prod-`): the API's role may create and read only jobs of its stack's prefix.
   */
  readonly jobIdPrefix?: string;
  /**
   * The certificate rotation provisioning template a `certificate.rotate` job
   * names (`MEDUSA_ROTATION_TEMPLATE`); without one, such a job is refused.
   */
  readonly rotationTemplate?: string;
}

/**
 * CreateJob's `jobExecutionsRetryConfig` for a domain retry rule (the
 * domain's `DEVICE_JOB_RETRY` for every MeDUSA job); undefined when the rule
 * runs nothing again (AWS takes 1-2 criteria, not an empty list).
 */
export const jobExecutionsRetryConfigOf = (
  retry: DeviceJobRetry,
): JobExecutionsRetryConfig | undefined => {
  const criteriaList: Array<RetryCriteria> = [
    ...(retry.afterFailed > 0
      ? [{ failureType: "FAILED" as const, numberOfRetries: retry.afterFailed }]
      : []),
    ...(retry.afterTimedOut > 0
      ? [{ failureType: "TIMED_OUT" as const, numberOfRetries: retry.afterTimedOut }]
      : []),
  ];
  return criteriaList.length > 0 ? { criteriaList } : undefined;
};

/** Every job this adapter creates is retried by the domain's rule: one retry of an execution that TIMED_OUT. */
const RETRY_CONFIG = jobExecutionsRetryConfigOf(DEVICE_JOB_RETRY);

/** The job document an agent gets for a request (`@medusa/adapters/jobs`'s `JobDocument`). */
export const jobDocumentOf = (
  request: Exclude<DeviceJobRequest, { type: "certificate.rotate" }>,
  bundleBucket: string,
): JobDocument => {
  switch (request.type) {
    case "config.set":
      return { operation: "config.set", settings: settingsState(request.settings) };
    case "agent.restart":
      return { operation: "agent.restart" };
    case "outbox.flush":
      return { operation: "outbox.flush" };
    case "agent.update":
      return {
        operation: "agent.update",
        version: request.version,
        url: presignedUrlPlaceholder(bundleBucket, request.bundleKey),
        sha256: request.sha256,
      };
  }
};

const statusOf = (e: unknown): number | undefined =>
  (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
const nameOf = (e: unknown): string => (e as { name?: string })?.name ?? "";
const reasonOf = (e: unknown): string =>
  e instanceof Error ? e.message : typeof e === "string" ? e : "unknown failure";

const ms = (d: Date | undefined): number | undefined => (d === undefined ? undefined : d.getTime());
const isStatus = (s: string | undefined): s is DeviceJobStatus =>
  (DEVICE_JOB_STATUSES as ReadonlyArray<string | undefined>).includes(s);

/** A job execution as AWS IoT's DescribeJobExecution gives it. */
export const deviceJobOf = (
  deviceId: DeviceId,
  e: IotJobExecution,
  jobIdPrefix = "",
): DeviceJob => {
  const jobId = e.jobId ?? "";
  return {
    jobId,
    deviceId,
    type: deviceJobTypeOf(jobId.startsWith(jobIdPrefix) ? jobId.slice(jobIdPrefix.length) : jobId),
    status: isStatus(e.status) ? e.status : "QUEUED",
    statusDetails: { ...(e.statusDetails?.detailsMap ?? {}) },
    queuedAt: ms(e.queuedAt) ?? 0,
    startedAt: ms(e.startedAt),
    lastUpdatedAt: ms(e.lastUpdatedAt) ?? ms(e.queuedAt) ?? 0,
    executionNumber: e.executionNumber,
    versionNumber: e.versionNumber,
  };
};

/** At most this many of a device's newest executions are described (one DescribeJobExecution each). */
export const MAX_LISTED_JOBS = 50;

/**
 * `DeviceJobs` on AWS IoT's control plane: CreateJob with the device's thing
 * ARN (from DescribeThing) as its one target and, for an agent update, a
 * presigned-URL configuration; ListJobExecutionsForThing, then
 * DescribeJobExecution for each of the newest (the listing has no status details).
 */
export const makeIotDeviceJobs = (
  client: IoTClient,
  settings: DeviceJobsSettings,
): DeviceJobsService => {
  const unavailable = (operation: string) => (e: unknown) =>
    new DeviceJobsUnavailable({ operation, reason: reasonOf(e) });
  const describe = (deviceId: DeviceId, jobId: string) =>
    Effect.tryPromise({
      try: () => client.send(new DescribeJobExecutionCommand({ jobId, thingName: deviceId })),
      catch: unavailable("describe a job execution"),
    }).pipe(
      Effect.map((r) =>
        r.execution ? deviceJobOf(deviceId, r.execution, settings.jobIdPrefix) : undefined,
      ),
    );
  return {
    create: (deviceId, unprefixed, request) =>
      Effect.gen(function* () {
        // AWS's limit: 64 characters.
        const jobId = `${settings.jobIdPrefix ?? ""}${unprefixed}`.slice(0, 64);
        const thing = yield* Effect.tryPromise({
          try: () => client.send(new DescribeThingCommand({ thingName: deviceId })),
          catch: (e) =>
            nameOf(e) === "ResourceNotFoundException"
              ? new DeviceNotRegistered({ deviceId })
              : unavailable("describe the thing")(e),
        });
        if (thing.thingArn === undefined)
          return yield* Effect.fail(new DeviceNotRegistered({ deviceId }));
        let document: JobDocument;
        if (request.type === "certificate.rotate") {
          if (settings.rotationTemplate === undefined)
            return yield* Effect.fail(
              new DeviceJobRejected({
                deviceId,
                reason:
                  "certificate rotation is not set up here: no rotation provisioning template is configured",
              }),
            );
          const template = Schema.decodeUnknownEither(RotationTemplateName)(
            settings.rotationTemplate,
          );
          if (Either.isLeft(template))
            return yield* Effect.fail(
              new DeviceJobRejected({
                deviceId,
                reason: `the configured rotation template ${JSON.stringify(settings.rotationTemplate)} is not one: ${template.left.message}`,
              }),
            );
          document = { operation: "certificate.rotate", template: template.right };
        } else document = jobDocumentOf(request, settings.bundleBucket);
        yield* Effect.tryPromise({
          try: () =>
            client.send(
              new CreateJobCommand({
                jobId,
                targets: [thing.thingArn as string],
                document: JSON.stringify(document),
                targetSelection: "SNAPSHOT",
                description: `MeDUSA ${request.type} for ${deviceId}`,
                ...(request.type === "agent.update"
                  ? {
                      presignedUrlConfig: {
                        roleArn: settings.presignRoleArn,
                        expiresInSec: settings.presignExpiresInSec ?? 3600,
                      },
                    }
                  : {}),
                ...(RETRY_CONFIG !== undefined
                  ? {
                      jobExecutionsRetryConfig: {
                        criteriaList: RETRY_CONFIG.criteriaList.map((c) => ({ ...c })),
                      },
                    }
                  : {}),
                ...(settings.inProgressTimeoutInMinutes !== undefined
                  ? {
                      timeoutConfig: {
                        inProgressTimeoutInMinutes: settings.inProgressTimeoutInMinutes,
                      },
                    }
                  : {}),
              }),
            ),
          catch: (e) => {
            const status = statusOf(e);
            return status !== undefined && status >= 400 && status < 500 && status !== 429
              ? new DeviceJobRejected({ deviceId, reason: reasonOf(e) })
              : unavailable("create a job")(e);
          },
        });
        const job = yield* describe(deviceId, jobId);
        if (job === undefined)
          return yield* Effect.fail(
            new DeviceJobsUnavailable({ operation: "create a job", reason: "no execution queued" }),
          );
        return job;
      }),
    list: (deviceId) =>
      Effect.gen(function* () {
        const summaries: Array<{ jobId: string; queuedAt: number }> = [];
        let nextToken: string | undefined;
        do {
          const page = yield* Effect.tryPromise({
            try: () =>
              client.send(
                new ListJobExecutionsForThingCommand({
                  thingName: deviceId,
                  maxResults: 100,
                  ...(nextToken !== undefined ? { nextToken } : {}),
                }),
              ),
            catch: (e) =>
              nameOf(e) === "ResourceNotFoundException"
                ? undefined
                : unavailable("list job executions")(e),
          }).pipe(
            Effect.catchIf(
              (e): e is undefined => e === undefined,
              () => Effect.succeed({ executionSummaries: [], nextToken: undefined }),
            ),
          );
          // Only this stack's jobs (another's the role may not describe); a job
          // retried has one execution per attempt: it is listed once (its latest).
          for (const s of page.executionSummaries ?? []) {
            if (!s.jobId?.startsWith(settings.jobIdPrefix ?? "")) continue;
            const queuedAt = ms(s.jobExecutionSummary?.queuedAt) ?? 0;
            const seen = summaries.find((x) => x.jobId === s.jobId);
            if (seen === undefined) summaries.push({ jobId: s.jobId, queuedAt });
            else seen.queuedAt = Math.min(seen.queuedAt, queuedAt);
          }
          nextToken = page.nextToken;
        } while (nextToken !== undefined);
        const newest = summaries.sort((a, b) => b.queuedAt - a.queuedAt).slice(0, MAX_LISTED_JOBS);
        const jobs = yield* Effect.forEach(newest, (s) => describe(deviceId, s.jobId), {
          concurrency: 5,
        });
        return jobs.filter((j): j is DeviceJob => j !== undefined);
      }),
  };
};

export interface IotJobsSettings extends DeviceJobsSettings {
  /** AWS IoT's control-plane endpoint (the region's default when absent), or the local emulation's. */
  readonly endpoint?: string;
  readonly region: string;
  readonly credentials?: IoTClientConfig["credentials"];
}

/** `DeviceJobs` on AWS IoT with a client of its own, for an entry point that wires by hand. */
export const connectIotDeviceJobs = (
  settings: IotJobsSettings,
): { readonly jobs: DeviceJobsService; readonly close: () => void } => {
  const client = new IoTClient({
    region: settings.region,
    maxAttempts: 2,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
  });
  return { jobs: makeIotDeviceJobs(client, settings), close: () => client.destroy() };
};
