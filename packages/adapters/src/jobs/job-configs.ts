import type { JobExecutionStatus } from "./messages.js";

/**
 * CreateJob's `jobExecutionsRetryConfig` and `abortConfig`, as AWS IoT
 * documents them
 * (https://docs.aws.amazon.com/iot/latest/apireference/API_JobExecutionsRetryConfig.html,
 * API_RetryCriteria.html, API_AbortConfig.html, API_AbortCriteria.html):
 * validation with AWS's ranges and its validation message shape, and the
 * pure decisions the Jobs service takes when an execution ends (retry it?
 * abort the job?).
 */

export type RetryFailureType = "FAILED" | "TIMED_OUT" | "ALL";
export type AbortFailureType = "FAILED" | "REJECTED" | "TIMED_OUT" | "ALL";

export interface RetryCriteria {
  readonly failureType: RetryFailureType;
  /** 0-10. */
  readonly numberOfRetries: number;
}

export interface JobExecutionsRetryConfig {
  /** 1-2 criteria. */
  readonly criteriaList: ReadonlyArray<RetryCriteria>;
}

export interface AbortCriteria {
  readonly failureType: AbortFailureType;
  readonly action: "CANCEL";
  /** At most 100, up to two digits after the decimal point. */
  readonly thresholdPercentage: number;
  /** At least 1. */
  readonly minNumberOfExecutedThings: number;
}

export interface AbortConfig {
  /** At least 1 criterion. */
  readonly criteriaList: ReadonlyArray<AbortCriteria>;
}

export const MAX_RETRY_CRITERIA = 2;
export const MAX_NUMBER_OF_RETRIES = 10;
export const MAX_THRESHOLD_PERCENTAGE = 100;

const RETRY_TYPES: ReadonlyArray<string> = ["FAILED", "TIMED_OUT", "ALL"];
const ABORT_TYPES: ReadonlyArray<string> = ["FAILED", "REJECTED", "TIMED_OUT", "ALL"];

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * AWS's validation failure: "N validation error(s) detected: Value 'x' at
 * 'path' failed to satisfy constraint: …" (the message its API sends with
 * an InvalidRequestException).
 */
const validationMessage = (errors: ReadonlyArray<string>): string =>
  `${errors.length} validation error${errors.length === 1 ? "" : "s"} detected: ${errors.join("; ")}`;

const violation = (value: unknown, path: string, constraint: string) =>
  `Value '${typeof value === "string" ? value : JSON.stringify(value)}' at '${path}' failed to satisfy constraint: ${constraint}`;

export type ConfigDecode<A> =
  | { readonly ok: true; readonly value: A }
  | { readonly ok: false; readonly message: string };

/** `jobExecutionsRetryConfig` as CreateJob receives it (JSON), checked. */
export const decodeRetryConfig = (input: unknown): ConfigDecode<JobExecutionsRetryConfig> => {
  const base = "jobExecutionsRetryConfig.criteriaList";
  const errors: Array<string> = [];
  if (!isRecord(input) || !Array.isArray(input.criteriaList))
    return {
      ok: false,
      message: validationMessage([
        violation(isRecord(input) ? input.criteriaList : input, base, "Member must not be null"),
      ]),
    };
  const list = input.criteriaList as ReadonlyArray<unknown>;
  if (list.length < 1 || list.length > MAX_RETRY_CRITERIA)
    errors.push(
      violation(
        list,
        base,
        `Member must have length less than or equal to ${MAX_RETRY_CRITERIA} and greater than or equal to 1`,
      ),
    );
  const criteria: Array<RetryCriteria> = [];
  list.forEach((c, i) => {
    const at = `${base}.${i + 1}.member`;
    if (!isRecord(c)) {
      errors.push(violation(c, at, "Member must not be null"));
      return;
    }
    const type = c.failureType;
    const n = c.numberOfRetries;
    let ok = true;
    if (typeof type !== "string" || !RETRY_TYPES.includes(type)) {
      errors.push(
        violation(
          type,
          `${at}.failureType`,
          `Member must satisfy enum value set: [${RETRY_TYPES.join(", ")}]`,
        ),
      );
      ok = false;
    }
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > MAX_NUMBER_OF_RETRIES) {
      errors.push(
        violation(
          n,
          `${at}.numberOfRetries`,
          `Member must have value less than or equal to ${MAX_NUMBER_OF_RETRIES} and greater than or equal to 0`,
        ),
      );
      ok = false;
    }
    if (ok) criteria.push({ failureType: type as RetryFailureType, numberOfRetries: n as number });
  });
  const types = criteria.map((c) => c.failureType);
  if (errors.length === 0 && new Set(types).size !== types.length)
    return {
      ok: false,
      message: `jobExecutionsRetryConfig names a failure type twice (${types.join(", ")})`,
    };
  return errors.length > 0
    ? { ok: false, message: validationMessage(errors) }
    : { ok: true, value: { criteriaList: criteria } };
};

/** `abortConfig` as CreateJob receives it (JSON), checked. */
export const decodeAbortConfig = (input: unknown): ConfigDecode<AbortConfig> => {
  const base = "abortConfig.criteriaList";
  const errors: Array<string> = [];
  if (!isRecord(input) || !Array.isArray(input.criteriaList))
    return {
      ok: false,
      message: validationMessage([
        violation(isRecord(input) ? input.criteriaList : input, base, "Member must not be null"),
      ]),
    };
  const list = input.criteriaList as ReadonlyArray<unknown>;
  if (list.length < 1)
    errors.push(violation(list, base, "Member must have length greater than or equal to 1"));
  const criteria: Array<AbortCriteria> = [];
  list.forEach((c, i) => {
    const at = `${base}.${i + 1}.member`;
    if (!isRecord(c)) {
      errors.push(violation(c, at, "Member must not be null"));
      return;
    }
    const before = errors.length;
    if (typeof c.failureType !== "string" || !ABORT_TYPES.includes(c.failureType))
      errors.push(
        violation(
          c.failureType,
          `${at}.failureType`,
          `Member must satisfy enum value set: [${ABORT_TYPES.join(", ")}]`,
        ),
      );
    if (c.action !== "CANCEL")
      errors.push(
        violation(c.action, `${at}.action`, "Member must satisfy enum value set: [CANCEL]"),
      );
    const pct = c.thresholdPercentage;
    if (
      typeof pct !== "number" ||
      !Number.isFinite(pct) ||
      pct < 0 ||
      pct > MAX_THRESHOLD_PERCENTAGE ||
      Math.round(pct * 100) / 100 !== pct
    )
      errors.push(
        violation(
          pct,
          `${at}.thresholdPercentage`,
          `Member must have value less than or equal to ${MAX_THRESHOLD_PERCENTAGE}, with at most two digits after the decimal point`,
        ),
      );
    const min = c.minNumberOfExecutedThings;
    if (typeof min !== "number" || !Number.isInteger(min) || min < 1)
      errors.push(
        violation(
          min,
          `${at}.minNumberOfExecutedThings`,
          "Member must have value greater than or equal to 1",
        ),
      );
    if (errors.length === before)
      criteria.push({
        failureType: c.failureType as AbortFailureType,
        action: "CANCEL",
        thresholdPercentage: pct as number,
        minNumberOfExecutedThings: min as number,
      });
  });
  return errors.length > 0
    ? { ok: false, message: validationMessage(errors) }
    : { ok: true, value: { criteriaList: criteria } };
};

const matches = (type: RetryFailureType | AbortFailureType, status: JobExecutionStatus) =>
  type === "ALL"
    ? status === "FAILED" || status === "TIMED_OUT" || status === "REJECTED"
    : type === status;

/**
 * Whether an execution that just ended with `ended` is retried: the
 * criterion for its failure type (its own before `ALL`) allows more retries
 * than the earlier attempts of this job on this thing that ended with a
 * status it counts. REJECTED is never retried (AWS retries FAILED and
 * TIMED_OUT only).
 */
export const shouldRetry = (
  config: JobExecutionsRetryConfig | undefined,
  ended: JobExecutionStatus,
  earlierEnds: ReadonlyArray<JobExecutionStatus>,
): boolean => {
  if (config === undefined || (ended !== "FAILED" && ended !== "TIMED_OUT")) return false;
  const criterion =
    config.criteriaList.find((c) => c.failureType === ended) ??
    config.criteriaList.find((c) => c.failureType === "ALL");
  if (criterion === undefined) return false;
  const counted = (s: JobExecutionStatus) =>
    criterion.failureType === "ALL" ? s === "FAILED" || s === "TIMED_OUT" : s === ended;
  const used = earlierEnds.filter(counted).length;
  return used < criterion.numberOfRetries;
};

/** One thing's standing in a job, for the abort decision. */
export interface ThingOutcome {
  /** The thing received its execution (it was started or ended, not only queued). */
  readonly executed: boolean;
  /** The final status of its latest execution when it ended and will not be retried. */
  readonly finalStatus?: JobExecutionStatus;
}

/**
 * The abort criterion that is met, if any: at least `minNumberOfExecutedThings`
 * things executed the job, and the things whose execution ended with the
 * criterion's failure type are at least `thresholdPercentage` percent of them.
 */
export const abortCriterionMet = (
  config: AbortConfig | undefined,
  outcomes: ReadonlyArray<ThingOutcome>,
): AbortCriteria | undefined => {
  if (config === undefined) return undefined;
  const executed = outcomes.filter((o) => o.executed);
  if (executed.length === 0) return undefined;
  return config.criteriaList.find((c) => {
    if (executed.length < c.minNumberOfExecutedThings) return false;
    const failed = executed.filter(
      (o) => o.finalStatus !== undefined && matches(c.failureType, o.finalStatus),
    ).length;
    return (failed * 100) / executed.length >= c.thresholdPercentage;
  });
};
