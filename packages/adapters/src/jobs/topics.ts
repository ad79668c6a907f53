/**
 * The Jobs service's reserved topics for devices
 * (https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-https-api.html):
 * requests on `$aws/things/{thing}/jobs/get`, `…/jobs/start-next`,
 * `…/jobs/{jobId}/get` and `…/jobs/{jobId}/update`, their answers on the same
 * topic plus `/accepted` or `/rejected`, and the service's own
 * `…/jobs/notify` and `…/jobs/notify-next`.
 */

/** Thing names: 1-128 characters of `[a-zA-Z0-9:_-]`. */
export const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
/** Job ids: 1-64 characters of `[a-zA-Z0-9_-]`. */
export const JOB_ID = /^[a-zA-Z0-9_-]{1,64}$/;
/** DescribeJobExecution's stand-in for "the next pending execution". */
export const NEXT_JOB = "$next";

/** `$aws/things/{thing}/jobs` */
export const jobsTopicPrefix = (thing: string): string => `$aws/things/${thing}/jobs`;

/** The device's request topics, and the service's notifications. */
export const jobsTopics = (thing: string) => {
  const prefix = jobsTopicPrefix(thing);
  return {
    /** GetPendingJobExecutions */
    getPending: `${prefix}/get`,
    /** StartNextPendingJobExecution */
    startNext: `${prefix}/start-next`,
    /** DescribeJobExecution (`jobId` may be `$next`) */
    describe: (jobId: string) => `${prefix}/${jobId}/get`,
    /** UpdateJobExecution */
    update: (jobId: string) => `${prefix}/${jobId}/update`,
    /** JobExecutionsChanged: the pending list changed. */
    notify: `${prefix}/notify`,
    /** NextJobExecutionChanged: the next pending execution changed. */
    notifyNext: `${prefix}/notify-next`,
    /** Every answer and notification of this thing's jobs (for one subscription). */
    all: `${prefix}/#`,
  } as const;
};

/** The answer topic of a request topic. */
export const acceptedTopic = (requestTopic: string): string => `${requestTopic}/accepted`;
export const rejectedTopic = (requestTopic: string): string => `${requestTopic}/rejected`;

/** A request the device may publish, named as the API names it. */
export type JobsRequest =
  | { readonly operation: "GetPendingJobExecutions"; readonly thing: string }
  | { readonly operation: "StartNextPendingJobExecution"; readonly thing: string }
  | {
      readonly operation: "DescribeJobExecution";
      readonly thing: string;
      /** A job id, or `$next`. */
      readonly jobId: string;
    }
  | { readonly operation: "UpdateJobExecution"; readonly thing: string; readonly jobId: string }
  /** A topic in the thing's jobs namespace that maps to no API: answered `InvalidTopic` on `{topic}/rejected`. */
  | { readonly operation: "InvalidTopic"; readonly thing: string };

const ANSWERS = new Set(["accepted", "rejected"]);

/**
 * What a topic under `$aws/things/{thing}/jobs/` asks for; undefined for a
 * topic outside the jobs namespace, for the service's own topics (answers,
 * `notify`, `notify-next`), which are never requests, and for a thing name
 * AWS would not take.
 */
export const parseJobsRequest = (topic: string): JobsRequest | undefined => {
  const levels = topic.split("/");
  if (levels[0] !== "$aws" || levels[1] !== "things" || levels[3] !== "jobs") return undefined;
  const thing = levels[2] ?? "";
  if (!THING_NAME.test(thing)) return undefined;
  const rest = levels.slice(4);
  const last = rest[rest.length - 1];
  if (last !== undefined && ANSWERS.has(last)) return undefined;
  if (rest.length === 1 && (rest[0] === "notify" || rest[0] === "notify-next")) return undefined;
  if (rest.length === 1 && rest[0] === "get")
    return { operation: "GetPendingJobExecutions", thing };
  if (rest.length === 1 && rest[0] === "start-next")
    return { operation: "StartNextPendingJobExecution", thing };
  if (rest.length === 2) {
    const jobId = rest[0] ?? "";
    if (rest[1] === "get" && (jobId === NEXT_JOB || JOB_ID.test(jobId)))
      return { operation: "DescribeJobExecution", thing, jobId };
    if (rest[1] === "update" && JOB_ID.test(jobId))
      return { operation: "UpdateJobExecution", thing, jobId };
  }
  return { operation: "InvalidTopic", thing };
};
