import { randomUUID } from "node:crypto";
import { Either, ParseResult, Schema } from "effect";
import { resolvePresignedUrls } from "../jobs/document.js";
import {
  type ExecutionRecord,
  endExecution,
  epochSeconds,
  executionState,
  executionSummary,
  isTerminal,
  jobExecution,
  pendingInOrder,
  queuedExecution,
  startExecution,
  timeoutAt,
  updateExecution,
} from "../jobs/execution.js";
import {
  type AbortConfig,
  type AbortCriteria,
  abortCriterionMet,
  decodeAbortConfig,
  decodePresignedUrlConfig,
  decodeRetryConfig,
  decodeTimeoutConfig,
  type JobExecutionsRetryConfig,
  shouldRetry,
  type ThingOutcome,
} from "../jobs/job-configs.js";
import {
  DescribeJobExecutionRequest,
  GetPendingJobExecutionsRequest,
  type JobExecutionSummary,
  type JobsErrorCode,
  MAX_JOB_DOCUMENT_CHARS,
  MAX_NOTIFY_LIST,
  StartNextPendingJobExecutionRequest,
  UpdateJobExecutionRequest,
} from "../jobs/messages.js";
import {
  acceptedTopic,
  JOB_ID,
  jobsTopics,
  NEXT_JOB,
  parseJobsRequest,
  rejectedTopic,
  THING_NAME,
} from "../jobs/topics.js";
import { isObject, type JsonObject } from "../shadow/json.js";
import { type JobsPersistence, type JobsSnapshot, memoryJobsPersistence } from "./jobs-store.js";

/** A job as the control plane keeps it. */
export interface JobRecord {
  readonly jobId: string;
  /** Thing names (CreateJob's targets, as thing ARNs or names). */
  readonly targets: ReadonlyArray<string>;
  readonly document: JsonObject;
  readonly description?: string;
  readonly status: "IN_PROGRESS" | "CANCELED" | "COMPLETED";
  readonly createdAt: number;
  readonly lastUpdatedAt: number;
  readonly completedAt?: number;
  readonly inProgressTimeoutInMinutes?: number;
  /** Set when the job asks for presigned URLs (CreateJob's `presignedUrlConfig.expiresInSec`). */
  readonly presignedUrlExpiresInSec?: number;
  readonly forceCanceled?: boolean;
  readonly comment?: string;
  readonly reasonCode?: string;
  /** CreateJob's retry config: a FAILED or TIMED_OUT execution is queued again, with the next execution number. */
  readonly jobExecutionsRetryConfig?: JobExecutionsRetryConfig;
  /** CreateJob's abort config: the job is canceled once enough of its things failed. */
  readonly abortConfig?: AbortConfig;
  /** The abort criterion that canceled the job, when one did. */
  readonly abortedBy?: AbortCriteria;
}

/** A control-plane refusal, named by the exception AWS IoT's API raises. */
export interface ControlPlaneError {
  readonly code:
    | "InvalidRequestException"
    | "ResourceNotFoundException"
    | "ResourceAlreadyExistsException"
    | "InvalidStateTransitionException"
    | "VersionConflictException"
    | "LimitExceededException";
  readonly message: string;
}

export type ControlPlaneResult<A> =
  | { readonly ok: true; readonly value: A }
  | { readonly ok: false; readonly error: ControlPlaneError };

export interface CreateJobInput {
  readonly jobId: string;
  /** Thing names or thing ARNs (`arn:aws:iot:{region}:{account}:thing/{name}`). */
  readonly targets: ReadonlyArray<string>;
  /** The job document, as JSON text (CreateJob's `document`). */
  readonly document: string;
  readonly description?: string;
  /**
   * As CreateJob received it (JSON): decoded here as AWS checks it
   * (`inProgressTimeoutInMinutes` 1-10080), refused with AWS's message shape.
   */
  readonly timeoutConfig?: unknown;
  /**
   * As CreateJob received it (JSON): presigned URLs for the document's
   * placeholders, decoded here as AWS checks it (`expiresInSec` 60-3600,
   * `roleArn` 20-2048 characters; the role itself is not checked locally).
   */
  readonly presignedUrlConfig?: unknown;
  /**
   * As CreateJob received it (JSON): decoded here as AWS checks it (1-2
   * criteria, FAILED | TIMED_OUT | ALL, 0-10 retries), refused with AWS's message.
   */
  readonly jobExecutionsRetryConfig?: unknown;
  /**
   * As CreateJob received it (JSON): decoded here as AWS checks it (FAILED |
   * REJECTED | TIMED_OUT | ALL, CANCEL, ≤ 100 %, ≥ 1 thing), refused with AWS's message.
   */
  readonly abortConfig?: unknown;
}

/** Resolves `${aws:iot:s3-presigned-url:<s3Url>}` for one delivery of a document to a thing. */
export type PresignedUrlResolver = (
  s3Url: string,
  context: { readonly thingName: string; readonly jobId: string; readonly expiresInSec: number },
) => string;

export interface JobsServiceOptions {
  /** Where jobs and executions are kept (in memory when absent). */
  readonly persistence?: JobsPersistence;
  /** Publishes an answer or a notification on a reserved topic to its subscribers. */
  readonly publish: (topic: string, payload: string) => void;
  /** Replaces presigned-URL placeholders when a document is delivered; without one, a job that asks for presigned URLs is refused. */
  readonly resolvePresignedUrl?: PresignedUrlResolver;
  readonly now?: () => number;
  readonly log?: (entry: Record<string, unknown>) => void;
  /**
   * The device API's rate limits (AWS IoT Device Management's quotas:
   * per account, per operation, `JOBS_DEVICE_API_TPS` requests per second
   * each); a request over its operation's rate is answered `RequestThrottled`
   * on its `/rejected` topic. `false` turns throttling off.
   */
  readonly throttle?: JobsThrottle | false;
}

/** Requests per second, per device-API operation, for the whole service (the account). */
export interface JobsThrottle {
  readonly requestsPerSecond: number;
  /** How many may come at once after a quiet spell (default: one second's worth). */
  readonly burst?: number;
}

/**
 * AWS IoT Jobs' default rate for each device-API operation
 * (DescribeJobExecution, GetPendingJobExecutions, StartNextPendingJobExecution,
 * UpdateJobExecution), per account and region: 200 requests per second.
 */
export const JOBS_DEVICE_API_TPS = 200;

/** The documented message of a throttled request. */
export const REQUEST_THROTTLED_MESSAGE = "The request was throttled.";

export interface JobsServiceStats {
  readonly requests: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly timedOut: number;
  readonly throttled: number;
}

/** CreateJob's default `presignedUrlConfig.expiresInSec`. */
const DEFAULT_PRESIGNED_EXPIRY_SEC = 3600;
const MAX_TIMER_MS = 2_147_483_647;
const THING_ARN = /^arn:aws[a-z-]*:iot:[a-z0-9-]*:\d*:thing\/(.+)$/;

/**
 * AWS IoT Jobs for things, as AWS IoT Core runs it, over any broker: the
 * control plane's calls (`createJob`, `cancelJob`, `describeJob`,
 * `listJobExecutionsForThing`, `describeJobExecution`) and the device's MQTT
 * API on `$aws/things/{thing}/jobs/…` (`handleRequest`), answered on the
 * documented `/accepted` and `/rejected` topics with the documented
 * documents, and `notify` and `notify-next` published whenever a thing's
 * pending list or its next execution changes. Step and in-progress timers
 * end an execution as TIMED_OUT. Every change is saved before it is
 * answered, in the order the requests arrived.
 */
export class JobsService {
  private readonly jobs = new Map<string, JobRecord>();
  /** Per thing, its executions in creation order. */
  private readonly executions = new Map<string, Array<ExecutionRecord>>();
  private readonly persistence: JobsPersistence;
  private readonly now: () => number;
  private readonly log: (entry: Record<string, unknown>) => void;
  private tail: Promise<void> = Promise.resolve();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private readonly counts = { requests: 0, accepted: 0, rejected: 0, timedOut: 0, throttled: 0 };
  /** Per operation: tokens left and when they were last counted (token buckets). */
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly options: JobsServiceOptions) {
    this.persistence = options.persistence ?? memoryJobsPersistence();
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => {});
    const snapshot = this.persistence.load();
    if (snapshot) {
      for (const job of snapshot.jobs) this.jobs.set(job.jobId, job);
      for (const e of snapshot.executions) this.thingExecutions(e.thingName).push(e);
    }
    // Timers that ran out while the service was down end their executions now.
    this.expireTimeouts();
  }

  stats(): JobsServiceStats {
    return { ...this.counts };
  }

  // ---- control plane ----

  createJob(input: CreateJobInput): Promise<ControlPlaneResult<JobRecord>> {
    const invalid = (message: string) =>
      Promise.resolve(fail<JobRecord>("InvalidRequestException", message));
    if (!JOB_ID.test(input.jobId)) return invalid("jobId must be 1-64 characters of [a-zA-Z0-9_-]");
    if (this.jobs.has(input.jobId))
      return Promise.resolve(
        fail<JobRecord>("ResourceAlreadyExistsException", `Job ${input.jobId} already exists`),
      );
    if (input.targets.length === 0) return invalid("targets must name at least one thing");
    const things: Array<string> = [];
    for (const target of input.targets) {
      const thing = THING_ARN.exec(target)?.[1] ?? target;
      if (!THING_NAME.test(thing)) return invalid(`${target} is not a thing ARN or thing name`);
      if (!things.includes(thing)) things.push(thing);
    }
    if (input.document.length > MAX_JOB_DOCUMENT_CHARS)
      return invalid(`the job document is over ${MAX_JOB_DOCUMENT_CHARS} characters`);
    let document: unknown;
    try {
      document = JSON.parse(input.document);
    } catch {
      return invalid("the job document is not valid JSON");
    }
    if (!isObject(document)) return invalid("the job document must be a JSON object");
    const timeoutConfig =
      input.timeoutConfig !== undefined ? decodeTimeoutConfig(input.timeoutConfig) : undefined;
    if (timeoutConfig !== undefined && !timeoutConfig.ok) return invalid(timeoutConfig.message);
    const timeout = timeoutConfig?.value.inProgressTimeoutInMinutes;
    const presign =
      input.presignedUrlConfig !== undefined
        ? decodePresignedUrlConfig(input.presignedUrlConfig)
        : undefined;
    if (presign !== undefined && !presign.ok) return invalid(presign.message);
    const retry =
      input.jobExecutionsRetryConfig !== undefined
        ? decodeRetryConfig(input.jobExecutionsRetryConfig)
        : undefined;
    if (retry !== undefined && !retry.ok) return invalid(retry.message);
    const abort =
      input.abortConfig !== undefined ? decodeAbortConfig(input.abortConfig) : undefined;
    if (abort !== undefined && !abort.ok) return invalid(abort.message);
    if (presign !== undefined && this.options.resolvePresignedUrl === undefined)
      return invalid(
        "this Jobs service cannot presign URLs: no presigned URL resolver is configured",
      );
    const now = this.now();
    const job: JobRecord = {
      jobId: input.jobId,
      targets: things,
      document,
      ...(input.description !== undefined ? { description: input.description } : {}),
      status: "IN_PROGRESS",
      createdAt: now,
      lastUpdatedAt: now,
      ...(timeout !== undefined ? { inProgressTimeoutInMinutes: timeout } : {}),
      ...(presign !== undefined
        ? { presignedUrlExpiresInSec: presign.value.expiresInSec ?? DEFAULT_PRESIGNED_EXPIRY_SEC }
        : {}),
      ...(retry?.ok ? { jobExecutionsRetryConfig: retry.value } : {}),
      ...(abort?.ok ? { abortConfig: abort.value } : {}),
    };
    this.jobs.set(job.jobId, job);
    const publishes: Array<Publish> = [];
    for (const thing of things) {
      const before = this.pending(thing);
      this.thingExecutions(thing).push(queuedExecution(job.jobId, thing, now));
      publishes.push(...this.notifications(thing, before, now));
    }
    return this.commit(publishes).then(() => ({ ok: true as const, value: job }));
  }

  /** CancelJob: QUEUED executions are canceled; IN_PROGRESS ones only with `force`. */
  cancelJob(
    jobId: string,
    options: {
      readonly force?: boolean;
      readonly comment?: string;
      readonly reasonCode?: string;
    } = {},
  ): Promise<ControlPlaneResult<JobRecord>> {
    const job = this.jobs.get(jobId);
    if (!job)
      return Promise.resolve(
        fail<JobRecord>("ResourceNotFoundException", `Job ${jobId} not found`),
      );
    if (job.status === "COMPLETED")
      return Promise.resolve(
        fail<JobRecord>(
          "InvalidStateTransitionException",
          `Job ${jobId} is COMPLETED and cannot be canceled`,
        ),
      );
    if (job.status === "CANCELED" && !(options.force && !job.forceCanceled))
      return Promise.resolve({ ok: true as const, value: job });
    const now = this.now();
    const canceled: JobRecord = {
      ...job,
      status: "CANCELED",
      lastUpdatedAt: now,
      ...(options.force ? { forceCanceled: true } : {}),
      ...(options.comment !== undefined ? { comment: options.comment } : {}),
      ...(options.reasonCode !== undefined ? { reasonCode: options.reasonCode } : {}),
    };
    this.jobs.set(jobId, canceled);
    const publishes: Array<Publish> = [];
    for (const thing of job.targets) {
      const before = this.pending(thing);
      const list = this.thingExecutions(thing);
      list.forEach((e, i) => {
        if (e.jobId !== jobId) return;
        const ended = endExecution(e, "CANCELED", now, { force: options.force === true });
        if (ended) list[i] = ended;
      });
      publishes.push(...this.notifications(thing, before, now));
    }
    return this.commit(publishes).then(() => ({ ok: true as const, value: canceled }));
  }

  /**
   * CancelJobExecution: the thing's latest execution of the job is CANCELED
   * when QUEUED, or IN_PROGRESS with `force`; `expectedVersion` must match;
   * `statusDetails`, when given, replace the execution's.
   */
  cancelJobExecution(
    jobId: string,
    thingName: string,
    options: {
      readonly force?: boolean;
      readonly expectedVersion?: number;
      readonly statusDetails?: Readonly<Record<string, string>>;
    } = {},
  ): Promise<ControlPlaneResult<ExecutionRecord>> {
    const e = this.find(thingName, jobId);
    if (!e)
      return Promise.resolve(
        fail<ExecutionRecord>("ResourceNotFoundException", notFound(jobId, thingName)),
      );
    if (options.expectedVersion !== undefined && options.expectedVersion !== e.versionNumber)
      return Promise.resolve(
        fail<ExecutionRecord>(
          "VersionConflictException",
          `expected version ${options.expectedVersion} but the job execution is at version ${e.versionNumber}`,
        ),
      );
    const now = this.now();
    const ended = endExecution(e, "CANCELED", now, { force: options.force === true });
    if (!ended)
      return Promise.resolve(
        fail<ExecutionRecord>(
          "InvalidStateTransitionException",
          e.status === "IN_PROGRESS"
            ? `The job execution of ${jobId} on ${thingName} is IN_PROGRESS: cancel it with force`
            : `The job execution of ${jobId} on ${thingName} is ${e.status}, a terminal state`,
        ),
      );
    const record: ExecutionRecord =
      options.statusDetails !== undefined
        ? { ...ended, statusDetails: options.statusDetails }
        : ended;
    const before = this.pending(thingName);
    this.replace(record);
    const publishes: Array<Publish> = [
      ...this.notifications(thingName, before, now),
      executionEvent(record, now),
    ];
    this.completeIfDone(jobId, now);
    return this.commit(publishes).then(() => ({ ok: true as const, value: record }));
  }

  describeJob(jobId: string): ControlPlaneResult<JobRecord> {
    const job = this.jobs.get(jobId);
    return job
      ? { ok: true, value: job }
      : fail("ResourceNotFoundException", `Job ${jobId} not found`);
  }

  /** ListJobExecutionsForThing: the thing's executions, in creation order, optionally of one status or job. */
  listJobExecutionsForThing(
    thingName: string,
    filter: { readonly status?: string; readonly jobId?: string } = {},
  ): ReadonlyArray<ExecutionRecord> {
    return (this.executions.get(thingName) ?? []).filter(
      (e) =>
        (filter.status === undefined || e.status === filter.status) &&
        (filter.jobId === undefined || e.jobId === filter.jobId),
    );
  }

  /** DescribeJobExecution (control plane): any status, terminal included. */
  describeJobExecution(
    jobId: string,
    thingName: string,
    executionNumber?: number,
  ): ControlPlaneResult<{ readonly execution: ExecutionRecord; readonly job: JobRecord }> {
    const execution = this.find(thingName, jobId, executionNumber);
    const job = this.jobs.get(jobId);
    if (!execution || !job)
      return fail(
        "ResourceNotFoundException",
        `No job execution of ${jobId} on ${thingName}${executionNumber !== undefined ? ` numbered ${executionNumber}` : ""}`,
      );
    return { ok: true, value: { execution, job } };
  }

  // ---- device plane (MQTT) ----

  /**
   * An MQTT publish: when `topic` is in a thing's jobs namespace, it is
   * handled and answered on its `/accepted` or `/rejected` topic, and this
   * returns true.
   */
  handleRequest(topic: string, payload: Uint8Array | string, _connection?: object): boolean {
    const request = parseJobsRequest(topic);
    if (request === undefined) return false;
    this.counts.requests++;
    const now = this.now();
    const publishes: Array<Publish> = [];
    const reject = (
      code: JobsErrorCode,
      message: string,
      clientToken?: string,
      state?: ReturnType<typeof executionState>,
    ) => {
      this.counts.rejected++;
      publishes.push([
        rejectedTopic(topic),
        {
          code,
          message,
          ...(clientToken !== undefined ? { clientToken } : {}),
          timestamp: epochSeconds(now),
          ...(state !== undefined ? { executionState: state } : {}),
        },
      ]);
    };
    const accept = (body: Record<string, unknown>) => {
      this.counts.accepted++;
      publishes.push([acceptedTopic(topic), body]);
    };
    const parsed = parsePayload(payload);
    const token = parsed.ok ? clientTokenOf(parsed.json) : undefined;
    const stamp = (body: Record<string, unknown>) => ({
      ...body,
      timestamp: epochSeconds(now),
      ...(token !== undefined ? { clientToken: token } : {}),
    });
    const thing = request.thing;
    if (request.operation === "InvalidTopic") {
      reject("InvalidTopic", `${topic} is not a topic of the Jobs API`, token);
      return this.answer(publishes);
    }
    if (!this.admit(request.operation, now)) {
      this.counts.throttled++;
      reject("RequestThrottled", REQUEST_THROTTLED_MESSAGE, token);
      return this.answer(publishes);
    }
    if (!parsed.ok) {
      reject("InvalidJson", "The request could not be interpreted as valid UTF-8 JSON");
      return this.answer(publishes);
    }
    switch (request.operation) {
      case "GetPendingJobExecutions": {
        const r = decode(GetPendingJobExecutionsRequest, parsed.json);
        if (!r.ok) {
          reject("InvalidRequest", r.message, token);
          break;
        }
        const pending = this.pending(thing);
        accept(
          stamp({
            inProgressJobs: pending.filter((e) => e.status === "IN_PROGRESS").map(executionSummary),
            queuedJobs: pending.filter((e) => e.status === "QUEUED").map(executionSummary),
          }),
        );
        break;
      }
      case "StartNextPendingJobExecution": {
        const r = decode(StartNextPendingJobExecutionRequest, parsed.json);
        if (!r.ok) {
          reject("InvalidRequest", r.message, token);
          break;
        }
        const before = this.pending(thing);
        const next = before[0];
        if (next === undefined) {
          accept(stamp({}));
          break;
        }
        const out = startExecution(next, r.value, now, this.policy(next.jobId));
        if (!out.ok) {
          reject(out.refusal.code, out.refusal.message, token, out.refusal.executionState);
          break;
        }
        this.replace(out.record);
        accept(stamp({ execution: this.delivered(out.record, now) }));
        publishes.push(...this.notifications(thing, before, now));
        break;
      }
      case "DescribeJobExecution": {
        const r = decode(DescribeJobExecutionRequest, parsed.json);
        if (!r.ok) {
          reject("InvalidRequest", r.message, token);
          break;
        }
        const withDocument = r.value.includeJobDocument !== false;
        if (request.jobId === NEXT_JOB) {
          const next = this.pending(thing)[0];
          accept(stamp(next ? { execution: this.delivered(next, now, withDocument) } : {}));
          break;
        }
        const e = this.find(thing, request.jobId, r.value.executionNumber);
        if (!e) {
          reject(
            "ResourceNotFound",
            notFound(request.jobId, thing, r.value.executionNumber),
            token,
          );
          break;
        }
        if (isTerminal(e.status)) {
          reject(
            "TerminalStateReached",
            `The job execution of ${request.jobId} on ${thing} is ${e.status}, a terminal state`,
            token,
          );
          break;
        }
        accept(stamp({ execution: this.delivered(e, now, withDocument) }));
        break;
      }
      case "UpdateJobExecution": {
        const r = decode(UpdateJobExecutionRequest, parsed.json);
        if (!r.ok) {
          reject("InvalidRequest", r.message, token);
          break;
        }
        const e = this.find(thing, request.jobId, r.value.executionNumber);
        if (!e) {
          reject(
            "ResourceNotFound",
            notFound(request.jobId, thing, r.value.executionNumber),
            token,
          );
          break;
        }
        const before = this.pending(thing);
        const out = updateExecution(e, r.value, now, this.policy(e.jobId));
        if (!out.ok) {
          reject(out.refusal.code, out.refusal.message, token, out.refusal.executionState);
          break;
        }
        this.replace(out.record);
        const retried = this.retryIfDue(out.record, now);
        const job = this.jobs.get(e.jobId);
        accept(
          stamp({
            ...(r.value.includeJobExecutionState === true
              ? { executionState: executionState(out.record) }
              : {}),
            ...(r.value.includeJobDocument === true && job
              ? { jobDocument: this.documentFor(job, thing) }
              : {}),
          }),
        );
        publishes.push(...this.notifications(thing, before, now));
        if (isTerminal(out.record.status)) publishes.push(executionEvent(out.record, now));
        if (retried)
          this.log({ level: "info", msg: "job execution retried", job_id: e.jobId, thing });
        this.completeIfDone(e.jobId, now);
        if (isTerminal(out.record.status)) publishes.push(...this.abortIfDue(e.jobId, now));
        break;
      }
    }
    return this.answer(publishes);
  }

  /** Ends every execution whose timer has run out as TIMED_OUT; returns how many. */
  expireTimeouts(): number {
    const now = this.now();
    const publishes: Array<Publish> = [];
    let ended = 0;
    const jobsTouched = new Set<string>();
    for (const [thing, list] of this.executions) {
      const due = list.filter((e) => {
        const at = timeoutAt(e);
        return at !== undefined && at <= now;
      });
      if (due.length === 0) continue;
      const before = this.pending(thing);
      for (const e of due) {
        const out = endExecution(e, "TIMED_OUT", now);
        if (!out) continue;
        this.replace(out);
        this.retryIfDue(out, now);
        ended++;
        jobsTouched.add(e.jobId);
        publishes.push(executionEvent(out, now));
        this.log({ level: "info", msg: "job execution timed out", job_id: e.jobId, thing });
      }
      publishes.push(...this.notifications(thing, before, now));
    }
    for (const jobId of jobsTouched) {
      this.completeIfDone(jobId, now);
      publishes.push(...this.abortIfDue(jobId, now));
    }
    this.counts.timedOut += ended;
    if (ended > 0) void this.commit(publishes);
    else this.schedule();
    return ended;
  }

  /** Resolves once every answer and notification under way is saved and published. */
  settled(): Promise<void> {
    return this.tail;
  }

  /** Waits for every answer under way, stops the timers, then closes the store. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.tail;
    await this.persistence.close();
  }

  // ---- internals ----

  /** Takes a token from the operation's bucket; false when it is empty (throttled). */
  private admit(operation: string, now: number): boolean {
    const limit = this.options.throttle ?? { requestsPerSecond: JOBS_DEVICE_API_TPS };
    if (limit === false) return true;
    const burst = limit.burst ?? limit.requestsPerSecond;
    const bucket = this.buckets.get(operation) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(
      burst,
      bucket.tokens + (Math.max(0, now - bucket.at) * limit.requestsPerSecond) / 1000,
    );
    bucket.at = now;
    this.buckets.set(operation, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private thingExecutions(thing: string): Array<ExecutionRecord> {
    let list = this.executions.get(thing);
    if (!list) {
      list = [];
      this.executions.set(thing, list);
    }
    return list;
  }

  private pending(thing: string): ReadonlyArray<ExecutionRecord> {
    return pendingInOrder(this.executions.get(thing) ?? []);
  }

  /** The execution of a job on a thing: the given number, or the latest. */
  private find(
    thing: string,
    jobId: string,
    executionNumber?: number,
  ): ExecutionRecord | undefined {
    const of = (this.executions.get(thing) ?? []).filter((e) => e.jobId === jobId);
    if (executionNumber !== undefined) return of.find((e) => e.executionNumber === executionNumber);
    return of.reduce<ExecutionRecord | undefined>(
      (latest, e) =>
        latest === undefined || e.executionNumber > latest.executionNumber ? e : latest,
      undefined,
    );
  }

  private replace(record: ExecutionRecord) {
    const list = this.thingExecutions(record.thingName);
    const i = list.findIndex(
      (e) => e.jobId === record.jobId && e.executionNumber === record.executionNumber,
    );
    if (i >= 0) list[i] = record;
  }

  private policy(jobId: string) {
    const t = this.jobs.get(jobId)?.inProgressTimeoutInMinutes;
    return t !== undefined ? { inProgressTimeoutInMinutes: t } : {};
  }

  /**
   * The job's retry config applied to an execution that just ended: when a
   * criterion allows it, a new QUEUED execution of the job on the thing,
   * numbered one more, with its retry attempt. Returns whether one was queued.
   */
  private retryIfDue(ended: ExecutionRecord, now: number): boolean {
    const job = this.jobs.get(ended.jobId);
    if (job?.status !== "IN_PROGRESS") return false;
    const earlier = (this.executions.get(ended.thingName) ?? [])
      .filter((e) => e.jobId === ended.jobId && e.executionNumber < ended.executionNumber)
      .map((e) => e.status);
    if (!shouldRetry(job.jobExecutionsRetryConfig, ended.status, earlier)) return false;
    this.thingExecutions(ended.thingName).push(
      queuedExecution(
        ended.jobId,
        ended.thingName,
        now,
        ended.executionNumber + 1,
        (ended.retryAttempt ?? 0) + 1,
      ),
    );
    return true;
  }

  /**
   * The job's abort config, checked after one of its executions ended: when
   * a criterion is met, the job is CANCELED and every execution not yet in a
   * terminal state is CANCELED (with notifications to its thing).
   */
  private abortIfDue(jobId: string, now: number): Array<Publish> {
    const job = this.jobs.get(jobId);
    if (job?.status !== "IN_PROGRESS" || job.abortConfig === undefined) return [];
    const outcomes: Array<ThingOutcome> = job.targets.map((thing) => {
      const of = (this.executions.get(thing) ?? []).filter((e) => e.jobId === jobId);
      const latest = of[of.length - 1];
      return {
        executed: of.some((e) => e.status !== "QUEUED" || e.startedAt !== undefined),
        ...(latest !== undefined && isTerminal(latest.status)
          ? { finalStatus: latest.status }
          : {}),
      };
    });
    const criterion = abortCriterionMet(job.abortConfig, outcomes);
    if (criterion === undefined) return [];
    this.jobs.set(jobId, { ...job, status: "CANCELED", lastUpdatedAt: now, abortedBy: criterion });
    this.log({ level: "warn", msg: "job aborted", job_id: jobId, criterion });
    const publishes: Array<Publish> = [];
    for (const thing of job.targets) {
      const before = this.pending(thing);
      const list = this.thingExecutions(thing);
      list.forEach((e, i) => {
        if (e.jobId !== jobId) return;
        const ended = endExecution(e, "CANCELED", now, { force: true });
        if (ended) {
          list[i] = ended;
          publishes.push(executionEvent(ended, now));
        }
      });
      publishes.push(...this.notifications(thing, before, now));
    }
    return publishes;
  }

  /** A job is COMPLETED once every execution has ended (a snapshot job). */
  private completeIfDone(jobId: string, now: number) {
    const job = this.jobs.get(jobId);
    if (job?.status !== "IN_PROGRESS") return;
    const all = job.targets.flatMap((t) =>
      (this.executions.get(t) ?? []).filter((e) => e.jobId === jobId),
    );
    if (all.every((e) => isTerminal(e.status)))
      this.jobs.set(jobId, { ...job, status: "COMPLETED", lastUpdatedAt: now, completedAt: now });
  }

  /** The document as a device gets it: placeholders presigned for this delivery. */
  private documentFor(job: JobRecord, thing: string): JsonObject {
    const resolve = this.options.resolvePresignedUrl;
    if (job.presignedUrlExpiresInSec === undefined || resolve === undefined) return job.document;
    const expiresInSec = job.presignedUrlExpiresInSec;
    return resolvePresignedUrls(job.document, (s3Url) =>
      resolve(s3Url, { thingName: thing, jobId: job.jobId, expiresInSec }),
    );
  }

  private delivered(e: ExecutionRecord, now: number, withDocument = true) {
    const job = this.jobs.get(e.jobId);
    return jobExecution(
      e,
      now,
      withDocument && job ? this.documentFor(job, e.thingName) : undefined,
    );
  }

  /**
   * `notify` when the pending list changed (an execution joined it, changed
   * status, or left it), `notify-next` when its first execution did.
   */
  private notifications(
    thing: string,
    before: ReadonlyArray<ExecutionRecord>,
    now: number,
  ): Array<Publish> {
    const after = this.pending(thing);
    const sig = (list: ReadonlyArray<ExecutionRecord>) =>
      list.map((e) => `${e.jobId}#${e.executionNumber}:${e.status}`).join(",");
    const out: Array<Publish> = [];
    const topics = jobsTopics(thing);
    if (sig(before) !== sig(after)) {
      const listed = after.slice(0, MAX_NOTIFY_LIST);
      const group = (status: "QUEUED" | "IN_PROGRESS"): Array<JobExecutionSummary> =>
        listed.filter((e) => e.status === status).map(executionSummary);
      const queued = group("QUEUED");
      const inProgress = group("IN_PROGRESS");
      out.push([
        topics.notify,
        {
          timestamp: epochSeconds(now),
          jobs: {
            ...(inProgress.length > 0 ? { IN_PROGRESS: inProgress } : {}),
            ...(queued.length > 0 ? { QUEUED: queued } : {}),
          },
        },
      ]);
    }
    const first = (list: ReadonlyArray<ExecutionRecord>) =>
      list[0] ? `${list[0].jobId}#${list[0].executionNumber}` : "";
    if (first(before) !== first(after)) {
      const next = after[0];
      out.push([
        topics.notifyNext,
        {
          timestamp: epochSeconds(now),
          ...(next ? { execution: this.delivered(next, now) } : {}),
        },
      ]);
    }
    return out;
  }

  private snapshot(): JobsSnapshot {
    return {
      jobs: [...this.jobs.values()],
      executions: [...this.executions.values()].flat(),
    };
  }

  /** Answers a request once everything before it is saved and published. */
  private answer(publishes: Array<Publish>): true {
    void this.commit(publishes);
    return true;
  }

  /** Saves the state as it is now, then publishes, after what was queued before. */
  private commit(publishes: ReadonlyArray<Publish>): Promise<void> {
    const write = this.persistence.save(this.snapshot());
    this.schedule();
    const next = this.tail.then(() =>
      write.then(
        () => {
          for (const [topic, body] of publishes) this.publish(topic, body);
        },
        (e: unknown) => {
          // The change stays in memory and is written with the next save.
          this.log({ level: "error", msg: "jobs could not be saved", error: String(e) });
          for (const [topic, body] of publishes) this.publish(topic, body);
        },
      ),
    );
    this.tail = next;
    return next;
  }

  private publish(topic: string, body: unknown) {
    try {
      this.options.publish(topic, JSON.stringify(body));
    } catch (e) {
      this.log({
        level: "error",
        msg: "a jobs message could not be published",
        topic,
        error: String(e),
      });
    }
  }

  /** One timer, for the earliest timeout of any execution. */
  private schedule() {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    let earliest: number | undefined;
    for (const list of this.executions.values())
      for (const e of list) {
        const at = timeoutAt(e);
        if (at !== undefined && (earliest === undefined || at < earliest)) earliest = at;
      }
    if (earliest === undefined) return;
    const delay = Math.min(Math.max(0, earliest - this.now()), MAX_TIMER_MS);
    this.timer = setTimeout(() => this.expireTimeouts(), delay);
    this.timer.unref?.();
  }
}

type Publish = readonly [topic: string, body: unknown];

/**
 * The Jobs event of an execution that ended
 * (https://docs.aws.amazon.com/iot/latest/developerguide/events-jobs.html):
 * `$aws/events/jobExecution/{jobId}/{succeeded|failed|rejected|timed_out|…}`,
 * for rules and cloud services (devices may not subscribe to `$aws/events`).
 */
export const executionEvent = (e: ExecutionRecord, now: number): Publish => {
  const operation = e.status.toLowerCase();
  return [
    `$aws/events/jobExecution/${e.jobId}/${operation}`,
    {
      eventType: "JOB_EXECUTION",
      eventId: randomUUID(),
      timestamp: epochSeconds(now),
      operation,
      jobId: e.jobId,
      thingArn: `arn:aws:iot:local:000000000000:thing/${e.thingName}`,
      status: e.status,
      ...(e.statusDetails !== undefined ? { statusDetails: e.statusDetails } : {}),
    },
  ];
};

const fail = <A>(code: ControlPlaneError["code"], message: string): ControlPlaneResult<A> => ({
  ok: false,
  error: { code, message },
});

const notFound = (jobId: string, thing: string, executionNumber?: number) =>
  `No job execution exists for job ${jobId} on thing ${thing}${executionNumber !== undefined ? ` with execution number ${executionNumber}` : ""}`;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The request's JSON; an empty payload is an empty request (`{}`). */
const parsePayload = (
  payload: Uint8Array | string,
): { readonly ok: true; readonly json: unknown } | { readonly ok: false } => {
  try {
    const text = typeof payload === "string" ? payload : utf8.decode(payload);
    return { ok: true, json: text.trim() === "" ? {} : JSON.parse(text) };
  } catch {
    return { ok: false };
  }
};

const clientTokenOf = (json: unknown): string | undefined =>
  isObject(json) && typeof json.clientToken === "string" ? json.clientToken : undefined;

const decode = <A, I>(
  schema: Schema.Schema<A, I>,
  json: unknown,
): { readonly ok: true; readonly value: A } | { readonly ok: false; readonly message: string } => {
  if (!isObject(json)) return { ok: false, message: "The request must be a JSON object" };
  const r = Schema.decodeUnknownEither(schema)(json);
  if (Either.isRight(r)) return { ok: true, value: r.right };
  const issue = ParseResult.ArrayFormatter.formatErrorSync(r.left)[0];
  return {
    ok: false,
    message: issue ? `${issue.path.join(".") || "request"}: ${issue.message}` : "Invalid request",
  };
};
