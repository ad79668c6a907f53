// Over 300 lines on purpose: the device side of AWS IoT Jobs is one loop (start-next, execute, update)
// whose waits, retries and resumption read best together.
import { randomUUID } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import type { MqttConnectionService } from "@medusa/adapters/mqtt";
import { writeAtomically } from "./bundle-update.js";
import { detached, errorText } from "./errors.js";
import { type AgentJob, readJobDocument } from "./job-document.js";
import {
  type JobExecution,
  jobsTopic,
  MAX_STEP_TIMEOUT_MINUTES,
  MIN_STEP_TIMEOUT_MINUTES,
  readExecution,
  statusDetails,
  TERMINAL_STATUSES,
} from "./jobs-protocol.js";

/** How long a Jobs request waits for its answer, at most. */
export const JOBS_ANSWER_TIMEOUT_MS = 10_000;
/** The step timeout asked for with start-next and every progress update. */
export const JOBS_STEP_TIMEOUT_MINUTES = 10;
/** After a start-next or a final update that did not get through, the next try (doubling, up to 5 min). */
export const JOBS_RETRY_MS = 5_000;
/**
 * A request answered `RequestThrottled` is sent again after a wait that
 * starts here and doubles (with jitter, up to `JOBS_THROTTLE_MAX_MS`), at
 * most `JOBS_THROTTLE_RETRIES` times; then the refusal stands.
 */
export const JOBS_THROTTLE_BASE_MS = 1_000;
export const JOBS_THROTTLE_MAX_MS = 30_000;
export const JOBS_THROTTLE_RETRIES = 6;
/** An update refused with VersionMismatch is tried again after a fresh get, this many times. */
const MISMATCH_RETRIES = 3;

/** The final word on an execution. */
export interface JobReport {
  readonly status: "SUCCEEDED" | "FAILED" | "REJECTED";
  readonly details: Readonly<Record<string, string>>;
}

/** What an executor did: finished, or asks for a restart (the report to send after it, if it knows it now). */
export type JobOutcome =
  | { readonly kind: "done"; readonly report: JobReport }
  | {
      readonly kind: "restart";
      readonly details: Readonly<Record<string, string>>;
      readonly afterRestart?: JobReport;
    };

export interface JobContext {
  readonly execution: JobExecution;
  /** Aborted when the step's time is up (or the job was canceled). */
  readonly signal: AbortSignal;
  /** An IN_PROGRESS update with these details; it restarts the step timer. Never throws. */
  progress(details: Record<string, string>): Promise<void>;
}

export interface JobsClientOptions {
  readonly thing: string;
  readonly transport: MqttConnectionService;
  readonly log: (line: string) => void;
  /** Runs a job taken with start-next. */
  readonly execute: (job: AgentJob, context: JobContext) => Promise<JobOutcome>;
  /**
   * An execution start-next gives back IN_PROGRESS that this agent is not
   * running (it restarted meanwhile) and has no final report for: the
   * outcome, or `again` to run it afresh.
   */
  readonly resume: (job: AgentJob, execution: JobExecution) => Promise<JobOutcome | "again">;
  /** Stops the agent so that it starts again (systemd, or the test's supervisor). */
  readonly restart: (reason: string) => void;
  /** Where a final report waits until the service has it (`job-report.json` beside the outbox). */
  readonly reportPath: string;
  readonly timeoutMs?: number;
  readonly stepTimeoutMinutes?: number;
  /** How long a step may run before the agent fails it (default: the step timeout less 30 s). */
  readonly stepBudgetMs?: number;
  readonly retryMs?: number;
  /** The first wait after a `RequestThrottled` answer (default `JOBS_THROTTLE_BASE_MS`). */
  readonly throttleBaseMs?: number;
  readonly newToken?: () => string;
}

type Answer = { readonly accepted: boolean; readonly body: Record<string, unknown> };

/** The service refused a request (its code and message). */
class JobsRefused extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly body: Record<string, unknown>,
  ) {
    super(`${code}: ${message}`);
  }
}

const utf8 = new TextDecoder();
const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u);

interface SavedReport {
  readonly jobId: string;
  readonly report: JobReport;
}

/**
 * The device side of AWS IoT Jobs, as the developer guide's device flow
 * has it: on every connection, subscribe to `notify-next` and the responses
 * (SUBACKs awaited), then `start-next` with a step timeout; execute one job
 * at a time; every update carries `expectedVersion` and `statusDetails`; a
 * `VersionMismatch` is recovered with a fresh `{jobId}/get`; every wait is
 * bounded. A document the agent does not understand is REJECTED with the
 * reason. A final report is saved before it is sent and sent again after a
 * restart (start-next gives the IN_PROGRESS execution back) until the
 * service has it.
 */
export class JobsClient {
  private readonly pending = new Map<
    string,
    { resolve: (a: Answer) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  private readonly timeoutMs: number;
  private readonly stepMinutes: number;
  private readonly newToken: () => string;
  private chain: Promise<void> = Promise.resolve();
  private queued = false;
  private stopped = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly subscribed = new Set<string>();
  private running: string | undefined;
  private readonly counts = {
    started: 0,
    succeeded: 0,
    failed: 0,
    rejected: 0,
    mismatches: 0,
    timeouts: 0,
    throttled: 0,
  };

  constructor(private readonly options: JobsClientOptions) {
    this.timeoutMs = options.timeoutMs ?? JOBS_ANSWER_TIMEOUT_MS;
    this.stepMinutes = Math.min(
      MAX_STEP_TIMEOUT_MINUTES,
      Math.max(MIN_STEP_TIMEOUT_MINUTES, options.stepTimeoutMinutes ?? JOBS_STEP_TIMEOUT_MINUTES),
    );
    this.newToken = options.newToken ?? randomUUID;
  }

  start(): void {
    const { transport } = this.options;
    transport.onConnect(() => this.enqueue(true));
    transport.onDisconnect(() => {
      this.subscribed.clear();
      for (const [token, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new Error("the connection closed before the Jobs service answered"));
        this.pending.delete(token);
      }
    });
    if (transport.connected) this.enqueue(true);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
  }

  /** The work under way, finished (tests). */
  idle(): Promise<void> {
    return this.chain;
  }

  stats() {
    return { ...this.counts, running: this.running };
  }

  private topic(rest: string) {
    return jobsTopic(this.options.thing, rest);
  }

  /** Subscribes (now, SUBACK awaited) unless done on this connection. */
  private async listen(rest: string) {
    const topic = this.topic(rest);
    if (this.subscribed.has(topic)) return;
    await this.options.transport.subscribe(topic, (t, payload) => this.onMessage(t, payload));
    this.subscribed.add(topic);
  }

  /** One job at a time: the cycles run one after the other; a cycle already waiting covers the next ask. */
  private enqueue(subscribe: boolean) {
    if (this.stopped || this.queued) return;
    this.queued = true;
    this.chain = this.chain.then(async () => {
      this.queued = false;
      if (this.stopped || !this.options.transport.connected) return;
      try {
        if (subscribe || !this.subscribed.has(this.topic("notify-next")))
          for (const rest of ["notify-next", "start-next/accepted", "start-next/rejected"])
            await this.listen(rest);
        await this.cycle();
        this.failures = 0;
      } catch (e) {
        this.retryLater(`jobs: ${errorText(e)}`);
      }
    });
  }

  /** start-next until nothing is pending: each execution run to its end before the next. */
  private async cycle(): Promise<void> {
    for (;;) {
      if (this.stopped || !this.options.transport.connected) return;
      const answer = await this.request("start-next", {
        stepTimeoutInMinutes: this.stepMinutes,
      });
      if (!answer.accepted)
        throw new JobsRefused(String(answer.body.code), String(answer.body.message), answer.body);
      const execution = readExecution(answer.body);
      const saved = this.savedReport();
      if (saved && saved.jobId !== execution?.jobId) this.forgetReport(); // no longer in progress
      if (execution === undefined) return;
      const restarting = await this.run(
        execution,
        saved?.jobId === execution.jobId ? saved : undefined,
      );
      if (restarting) return;
    }
  }

  /** Runs (or resumes, or reports) one execution; true when the agent is restarting for it. */
  private async run(execution: JobExecution, saved: SavedReport | undefined): Promise<boolean> {
    const { jobId } = execution;
    for (const rest of ["update/accepted", "update/rejected", "get/accepted", "get/rejected"])
      await this.listen(`${jobId}/${rest}`);
    const version = { current: execution.versionNumber };
    if (saved) {
      this.options.log(`job ${jobId}: sending the report saved before the restart`);
      await this.finish(jobId, version, saved.report);
      return false;
    }
    const read = readJobDocument(execution.jobDocument);
    if (!read.ok) {
      this.options.log(`job ${jobId} rejected: ${read.reason}`);
      await this.finish(jobId, version, { status: "REJECTED", details: { reason: read.reason } });
      return false;
    }
    this.running = jobId;
    this.counts.started++;
    try {
      let outcome: JobOutcome | "again" = "again";
      if (execution.status === "IN_PROGRESS")
        outcome = await this.options.resume(read.job, execution);
      if (outcome === "again") outcome = await this.execute(read.job, execution, version);
      if (outcome.kind === "done") {
        await this.finish(jobId, version, outcome.report);
        return false;
      }
      if (outcome.afterRestart) this.saveReport({ jobId, report: outcome.afterRestart });
      await this.update(jobId, version, "IN_PROGRESS", outcome.details).catch((e: unknown) =>
        this.options.log(`job ${jobId}: progress before the restart not sent: ${errorText(e)}`),
      );
      this.options.log(`job ${jobId}: restarting the agent (${read.job.operation})`);
      this.stopped = true;
      this.options.restart(`job ${jobId}: ${read.job.operation}`);
      return true;
    } finally {
      this.running = undefined;
    }
  }

  /** The executor, within the step's time: a step that runs out is failed before the service times it out. */
  private async execute(
    job: AgentJob,
    execution: JobExecution,
    version: { current: number },
  ): Promise<JobOutcome> {
    const budget = this.options.stepBudgetMs ?? this.stepMinutes * 60_000 - 30_000;
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let expire: () => void = () => {};
    const expired = new Promise<JobOutcome>((resolve) => {
      expire = () => {
        const within = budget < 10_000 ? `${budget} ms` : `${Math.round(budget / 1000)} s`;
        const reason = `not finished within the step's ${within} (step timeout ${this.stepMinutes} min)`;
        controller.abort(new Error(reason));
        resolve({ kind: "done", report: { status: "FAILED", details: { reason } } });
      };
    });
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(expire, budget);
    };
    arm();
    const context: JobContext = {
      execution,
      signal: controller.signal,
      progress: async (details) => {
        try {
          await this.update(execution.jobId, version, "IN_PROGRESS", details, true);
          arm(); // the service's step timer started again: so does ours
        } catch (e) {
          if (e instanceof JobsRefused && e.code === "TerminalStateReached")
            controller.abort(new Error("the job ended on the service (canceled or timed out)"));
          this.options.log(`job ${execution.jobId}: progress not sent: ${errorText(e)}`);
        }
      },
    };
    try {
      return await Promise.race([
        this.options.execute(job, context).catch(
          (e: unknown): JobOutcome => ({
            kind: "done",
            report: { status: "FAILED", details: { reason: errorText(e).slice(0, 1000) } },
          }),
        ),
        expired,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The final update: saved first, sent with the version known, a VersionMismatch recovered. */
  private async finish(jobId: string, version: { current: number }, report: JobReport) {
    this.saveReport({ jobId, report });
    try {
      await this.update(jobId, version, report.status, report.details);
      this.counts[
        report.status === "SUCCEEDED"
          ? "succeeded"
          : report.status === "FAILED"
            ? "failed"
            : "rejected"
      ]++;
      this.options.log(`job ${jobId}: ${report.status} ${JSON.stringify(report.details)}`);
      this.forgetReport();
    } catch (e) {
      if (
        e instanceof JobsRefused &&
        ["TerminalStateReached", "ResourceNotFound", "InvalidStateTransition"].includes(e.code)
      ) {
        this.options.log(`job ${jobId}: the service ended it before our report (${e.message})`);
        this.forgetReport();
        return;
      }
      throw e; // kept on disk: sent again on the next start-next
    }
  }

  /** An update with `expectedVersion`; on VersionMismatch, a fresh get and again. */
  private async update(
    jobId: string,
    version: { current: number },
    status: string,
    details: Readonly<Record<string, string>>,
    withStepTimeout = status === "IN_PROGRESS",
  ): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const answer = await this.request(`${jobId}/update`, {
        status,
        statusDetails: statusDetails(details),
        expectedVersion: version.current,
        includeJobExecutionState: true,
        ...(withStepTimeout ? { stepTimeoutInMinutes: this.stepMinutes } : {}),
      });
      if (answer.accepted) {
        const state = answer.body.executionState;
        version.current =
          isRecord(state) && typeof state.versionNumber === "number"
            ? state.versionNumber
            : version.current + 1;
        return;
      }
      const code = String(answer.body.code);
      if (code !== "VersionMismatch" || attempt >= MISMATCH_RETRIES)
        throw new JobsRefused(code, String(answer.body.message), answer.body);
      this.counts.mismatches++;
      this.options.log(`job ${jobId}: version ${version.current} is stale, getting the execution`);
      const fresh = await this.request(`${jobId}/get`, { includeJobDocument: false });
      const execution = fresh.accepted ? readExecution(fresh.body) : undefined;
      if (!execution)
        throw new JobsRefused(String(fresh.body.code), String(fresh.body.message), fresh.body);
      if ((TERMINAL_STATUSES as ReadonlyArray<string>).includes(execution.status))
        throw new JobsRefused(
          "TerminalStateReached",
          `the execution is ${execution.status}`,
          fresh.body,
        );
      version.current = execution.versionNumber;
    }
  }

  private onMessage(topic: string, payload: Uint8Array) {
    let body: unknown;
    try {
      body = JSON.parse(utf8.decode(payload));
    } catch {
      this.options.log(`jobs: a message on ${topic} is not JSON, ignored`);
      return;
    }
    if (!isRecord(body)) return;
    if (topic === this.topic("notify-next")) {
      // A job is next: start-next takes it (once the one under way, if any, is done).
      if (readExecution(body) !== undefined) this.enqueue(false);
      return;
    }
    const token = typeof body.clientToken === "string" ? body.clientToken : undefined;
    const waiting = token === undefined ? undefined : this.pending.get(token);
    if (!waiting || token === undefined) return;
    this.pending.delete(token);
    clearTimeout(waiting.timer);
    waiting.resolve({ accepted: topic.endsWith("/accepted"), body });
  }

  private retryLater(why: string) {
    const base = this.options.retryMs ?? JOBS_RETRY_MS;
    const wait = Math.min(300_000, base * 2 ** Math.min(this.failures, 16));
    this.failures++;
    this.options.log(`${why}; trying again in ${Math.round(wait / 100) / 10} s`);
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    this.retryTimer = setTimeout(() => this.enqueue(false), wait);
    this.retryTimer.unref?.();
  }

  /**
   * A request, sent again with a fresh clientToken after a growing, jittered
   * wait while the service answers `RequestThrottled`.
   */
  private async request(rest: string, body: Record<string, unknown>): Promise<Answer> {
    const base = this.options.throttleBaseMs ?? JOBS_THROTTLE_BASE_MS;
    for (let attempt = 0; ; attempt++) {
      const answer = await this.requestOnce(rest, body);
      if (answer.accepted || answer.body.code !== "RequestThrottled") return answer;
      this.counts.throttled++;
      if (attempt >= JOBS_THROTTLE_RETRIES || this.stopped) return answer;
      const cap = Math.min(JOBS_THROTTLE_MAX_MS, base * 2 ** attempt);
      const wait = Math.round(cap / 2 + Math.random() * (cap / 2));
      this.options.log(`jobs ${rest}: throttled; sending again in ${wait} ms`);
      await new Promise<void>((r) => setTimeout(r, wait).unref?.());
    }
  }

  /** Publishes a request with a fresh clientToken; its answer, or an error after the timeout. */
  private requestOnce(rest: string, body: Record<string, unknown>): Promise<Answer> {
    const token = this.newToken();
    return new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(token);
        this.counts.timeouts++;
        reject(new Error(`no answer to ${rest} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(token, { resolve, reject, timer });
      detached(
        `jobs ${rest}`,
        () =>
          this.options.transport
            .publish(this.topic(rest), JSON.stringify({ ...body, clientToken: token }))
            .catch((e: unknown) => {
              const p = this.pending.get(token);
              if (!p) return;
              this.pending.delete(token);
              clearTimeout(p.timer);
              p.reject(e instanceof Error ? e : new Error(String(e)));
            }),
        this.options.log,
      );
    });
  }

  private savedReport(): SavedReport | undefined {
    try {
      const saved = JSON.parse(readFileSync(this.options.reportPath, "utf8")) as SavedReport;
      return typeof saved.jobId === "string" && isRecord(saved.report) ? saved : undefined;
    } catch {
      return undefined;
    }
  }

  private saveReport(saved: SavedReport) {
    try {
      writeAtomically(this.options.reportPath, `${JSON.stringify(saved)}\n`, 0o600);
    } catch (e) {
      this.options.log(
        `job ${saved.jobId}: report not saved to ${this.options.reportPath}: ${errorText(e)}`,
      );
    }
  }

  private forgetReport() {
    rmSync(this.options.reportPath, { force: true });
  }
}
