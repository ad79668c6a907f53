import { Either, ParseResult, Schema } from "effect";
import {
  type JobExecutionStatus,
  MAX_STEP_TIMEOUT_MINUTES,
  MIN_STEP_TIMEOUT_MINUTES,
} from "./messages.js";

/**
 * CreateJob's `jobExecutionsRetryConfig`, `abortConfig`, `timeoutConfig` and
 * `presignedUrlConfig`, as AWS IoT documents them
 * (https://docs.aws.amazon.com/iot/latest/apireference/API_JobExecutionsRetryConfig.html,
 * API_RetryCriteria.html, API_AbortConfig.html, API_AbortCriteria.html,
 * API_TimeoutConfig.html, API_PresignedUrlConfig.html):
 * validation with AWS's ranges and its validation message shape, and the
 * pure decisions the Jobs service takes when an execution ends (retry it?
 * abort the job?).
 */

export const MAX_RETRY_CRITERIA = 2;
export const MAX_NUMBER_OF_RETRIES = 10;
export const MAX_THRESHOLD_PERCENTAGE = 100;

const NOT_NULL = "Member must not be null";

/** A schema whose every failure reads as the constraint AWS names for it. */
const constrained = <A, I>(schema: Schema.Schema<A, I>, constraint: string) =>
  schema.annotations({ message: () => ({ message: constraint, override: true }) });
/** A required member whose every failure, its absence too, reads as the constraint AWS names for it. */
const member = <A, I>(schema: Schema.Schema<A, I>, constraint: string) =>
  Schema.propertySignature(constrained(schema, constraint)).annotations({
    missingMessage: () => constraint,
  });
/** A whole number in `[min, max]` (AWS's Long with a valid range), and AWS's constraint for it. */
const longBetween = (min: number, max: number) =>
  [
    Schema.Number.pipe(Schema.int(), Schema.between(min, max)),
    `Member must have value less than or equal to ${max} and greater than or equal to ${min}`,
  ] as const;
const enumMember = <const L extends ReadonlyArray<string>>(literals: L) =>
  member(
    Schema.Literal(...literals),
    `Member must satisfy enum value set: [${literals.join(", ")}]`,
  );
/** A criterion: an object (what its members hold speaks for itself). */
const criterion = <F extends Schema.Struct.Fields>(fields: F) =>
  Schema.Struct(fields).annotations({ message: () => NOT_NULL });
/** A config: an object with a `criteriaList` (a list; its length and criteria speak for themselves). */
const config = <A, I>(criteriaList: Schema.Schema<ReadonlyArray<A>, ReadonlyArray<I>>) =>
  Schema.Struct({
    criteriaList: Schema.propertySignature(criteriaList).annotations({
      missingMessage: () => NOT_NULL,
    }),
  }).annotations({ message: () => NOT_NULL });
const listOf = <A, I>(criterion: Schema.Schema<A, I>) =>
  Schema.Array(criterion).annotations({ message: () => NOT_NULL });

const RETRY_FAILURE_TYPES = ["FAILED", "TIMED_OUT", "ALL"] as const;
const ABORT_FAILURE_TYPES = ["FAILED", "REJECTED", "TIMED_OUT", "ALL"] as const;
export type RetryFailureType = (typeof RETRY_FAILURE_TYPES)[number];
export type AbortFailureType = (typeof ABORT_FAILURE_TYPES)[number];

export const RetryCriteria = criterion({
  failureType: enumMember(RETRY_FAILURE_TYPES),
  numberOfRetries: member(...longBetween(0, MAX_NUMBER_OF_RETRIES)),
});
export interface RetryCriteria extends Schema.Schema.Type<typeof RetryCriteria> {}

const retryListLength = `Member must have length less than or equal to ${MAX_RETRY_CRITERIA} and greater than or equal to 1`;
/**
 * 1-2 criteria. Both length checks are stable filters, so a list too long is
 * reported beside what is wrong in its criteria, as AWS reports it.
 */
export const JobExecutionsRetryConfig = config(
  listOf(RetryCriteria).pipe(
    Schema.maxItems(MAX_RETRY_CRITERIA, { message: () => retryListLength }),
    Schema.minItems(1, { message: () => retryListLength }),
  ),
);
export interface JobExecutionsRetryConfig
  extends Schema.Schema.Type<typeof JobExecutionsRetryConfig> {}

export const AbortCriteria = criterion({
  failureType: enumMember(ABORT_FAILURE_TYPES),
  action: enumMember(["CANCEL"]),
  thresholdPercentage: member(
    Schema.Number.pipe(
      Schema.finite(),
      Schema.between(0, MAX_THRESHOLD_PERCENTAGE),
      Schema.filter((pct) => Math.round(pct * 100) / 100 === pct),
    ),
    `Member must have value less than or equal to ${MAX_THRESHOLD_PERCENTAGE}, with at most two digits after the decimal point`,
  ),
  minNumberOfExecutedThings: member(
    Schema.Number.pipe(Schema.int(), Schema.greaterThanOrEqualTo(1)),
    "Member must have value greater than or equal to 1",
  ),
});
export interface AbortCriteria extends Schema.Schema.Type<typeof AbortCriteria> {}

/** At least 1 criterion. */
export const AbortConfig = config(
  listOf(AbortCriteria).pipe(
    Schema.minItems(1, { message: () => "Member must have length greater than or equal to 1" }),
  ),
);
export interface AbortConfig extends Schema.Schema.Type<typeof AbortConfig> {}

/** A member that may be absent (JSON has no `undefined` to allow). */
const optional = <A, I>(schema: Schema.Schema<A, I>) =>
  Schema.optionalWith(schema, { exact: true });
/** Not an object where CreateJob takes a structure. */
const STRUCTURE = "Member must be a structure";

/**
 * The in-progress timer: 1 minute to 7 days, the same bounds as a step
 * timer. AWS's API reference gives the range in words (no "Valid Range"),
 * so the message of a value outside it is written in the shape of its
 * other validation errors.
 */
export const TimeoutConfig = Schema.Struct({
  inProgressTimeoutInMinutes: optional(
    constrained(...longBetween(MIN_STEP_TIMEOUT_MINUTES, MAX_STEP_TIMEOUT_MINUTES)),
  ),
}).annotations({ message: () => STRUCTURE });
export interface TimeoutConfig extends Schema.Schema.Type<typeof TimeoutConfig> {}

const MIN_PRESIGNED_EXPIRY_SEC = 60;
const MAX_PRESIGNED_EXPIRY_SEC = 3600;

/** Presigned URLs for a job document's placeholders: valid 60-3600 s; the role's ARN 20-2048 characters. */
export const PresignedUrlConfig = Schema.Struct({
  roleArn: optional(
    constrained(
      Schema.String.pipe(Schema.minLength(20), Schema.maxLength(2048)),
      "Member must have length less than or equal to 2048 and greater than or equal to 20",
    ),
  ),
  expiresInSec: optional(
    constrained(...longBetween(MIN_PRESIGNED_EXPIRY_SEC, MAX_PRESIGNED_EXPIRY_SEC)),
  ),
}).annotations({ message: () => STRUCTURE });
export interface PresignedUrlConfig extends Schema.Schema.Type<typeof PresignedUrlConfig> {}

export type ConfigDecode<A> =
  | { readonly ok: true; readonly value: A }
  | { readonly ok: false; readonly message: string };

const valueAt = (input: unknown, path: ReadonlyArray<PropertyKey>): unknown =>
  path.reduce<unknown>((v, key) => (v instanceof Object ? Reflect.get(v, key) : undefined), input);

/**
 * `input` decoded by a CreateJob config schema, or AWS's validation failure
 * for it: "N validation error(s) detected: Value 'x' at 'path' failed to
 * satisfy constraint: …; …" (the message its API sends with an
 * InvalidRequestException), a list's length before its members. A path
 * names list members from 1 (`abortConfig.criteriaList.1.member.action`); a
 * config that is not an object is reported at `whole` (a retry or abort
 * config's required `criteriaList`, another config itself).
 */
const decodeConfig =
  <A, I>(schema: Schema.Schema<A, I>, name: string, whole: ReadonlyArray<PropertyKey> = []) =>
  (input: unknown): ConfigDecode<A> => {
    const decoded = Schema.decodeUnknownEither(schema, { errors: "all" })(input);
    if (Either.isRight(decoded)) return { ok: true, value: decoded.right };
    const errors = ParseResult.ArrayFormatter.formatIssueSync(decoded.left.issue)
      .map(({ path, message }) => ({
        value: valueAt(input, path),
        path: path.length > 0 ? path : whole,
        message,
      }))
      .sort((a, b) => Number(a.path.length > 1) - Number(b.path.length > 1))
      .map(({ value, path, message }) => {
        const at = [
          name,
          ...path.map((k) => (typeof k === "number" ? `${k + 1}.member` : String(k))),
        ];
        return `Value '${typeof value === "string" ? value : JSON.stringify(value)}' at '${at.join(".")}' failed to satisfy constraint: ${message}`;
      });
    return {
      ok: false,
      message: `${errors.length} validation error${errors.length === 1 ? "" : "s"} detected: ${errors.join("; ")}`,
    };
  };

const decodeRetryShape = decodeConfig(JobExecutionsRetryConfig, "jobExecutionsRetryConfig", [
  "criteriaList",
]);

/** `jobExecutionsRetryConfig` as CreateJob receives it (JSON), checked; a failure type named twice is refused. */
export const decodeRetryConfig = (input: unknown): ConfigDecode<JobExecutionsRetryConfig> => {
  const decoded = decodeRetryShape(input);
  if (!decoded.ok) return decoded;
  const types = decoded.value.criteriaList.map((c) => c.failureType);
  return new Set(types).size !== types.length
    ? {
        ok: false,
        message: `jobExecutionsRetryConfig names a failure type twice (${types.join(", ")})`,
      }
    : decoded;
};

/** `abortConfig` as CreateJob receives it (JSON), checked. */
export const decodeAbortConfig = decodeConfig(AbortConfig, "abortConfig", ["criteriaList"]);

/** `timeoutConfig` as CreateJob receives it (JSON), checked. */
export const decodeTimeoutConfig = decodeConfig(TimeoutConfig, "timeoutConfig");

/** `presignedUrlConfig` as CreateJob receives it (JSON), checked. */
export const decodePresignedUrlConfig = decodeConfig(PresignedUrlConfig, "presignedUrlConfig");

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
